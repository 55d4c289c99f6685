// What a subcommand looks like to the dispatcher: a summary, a help text and `run`,
// which gets argv and the process's environment and streams, and returns an exit code.

import { type ParseArgsConfig, parseArgs } from 'node:util';
import { ConfigError, type Environment, formatProblem, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';

export interface CommandContext {
  readonly env: Environment;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** only `passwd` reads it */
  readonly stdin?: NodeJS.ReadableStream;
}

export interface Command {
  readonly summary: string;
  readonly help: string;
  /** Exit code, or -1 for "still running" (a server that stops on a signal). */
  run(argv: string[], context: CommandContext): Promise<number>;
}

/** Exit codes from sysexits.h, as Postfix's tools use them. */
export const exitCode = {
  ok: 0,
  configError: 2,
  usage: 64,
  dataError: 65,
  unavailable: 69,
  software: 70,
  ioError: 74,
  tempFail: 75,
} as const;

export class UsageError extends Error {}

export function parseOptions<T extends ParseArgsConfig['options']>(
  argv: string[],
  options: T,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** `30d`, `12h`, `90m`, `3600s` or plain seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)([dhms]?)$/.exec(text);
  if (!m) throw new UsageError(`bad duration ${text}`);
  return Number(m[1]) * { d: 86_400, h: 3600, m: 60, s: 1, '': 1 }[m[2] as 'd']!;
}

/** Loads `-c FILE` for a subcommand; on a problem prints it (key and line) and returns undefined. */
export async function loadCommandConfig(
  file: string,
  context: Pick<CommandContext, 'env' | 'stderr'>,
): Promise<Config | undefined> {
  try {
    return await loadConfig(file, context.env, (warning) => context.stderr.write(`${formatProblem(file, warning)}\n`));
  } catch (err) {
    context.stderr.write(`${err instanceof ConfigError ? err.message : String(err)}\n`);
    return undefined;
  }
}
