// A real mailbridge for end-to-end tests: the recipe's YAML is written to a file, with this test's
// Redis and {prefix}, loaded by the real loader and run by startGateway in this process. Its log
// goes to a file for failure messages; stop() closes it and removes its Redis keys.

import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { startGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/log.js';
import { deleteKeys, redisUrl, testPrefix } from './redis.js';

export interface TestMailbridge {
  readonly config: Config;
  /** the port of the first listener of `role` */
  port(role: 'mx' | 'submission' | 'relay-in'): number;
  /** the files in <maildir_root>/<domain>/Maildir/<user>/new, oldest first */
  delivered(domain: string, user: string): Promise<Buffer[]>;
  log(): Promise<string>;
  stop(): Promise<void>;
}

/** `recipe` is mailbridge.yaml as an object; paths in it are relative to `dir`; its `redis` is merged over ours. */
export async function startMailbridge(dir: string, recipe: Record<string, unknown>): Promise<TestMailbridge> {
  const prefix = testPrefix();
  const file = path.join(dir, 'mailbridge.yaml');
  const logFile = path.join(dir, 'mailbridge.log');
  await writeFile(
    file,
    stringify({
      metrics: { port: 0 },
      ...recipe,
      // a recipe may name its own Redis (a test's Redis Cluster); the shared one gets this test's prefix
      redis: { url: redisUrl, prefix, ...(recipe.redis as Record<string, unknown> | undefined) },
      log: { level: 'debug', file: logFile },
    }),
  );
  const config = await loadConfig(file);
  const gateway = await startGateway(config, createLogger(config));
  return {
    config,
    port(role) {
      const found = gateway.listening.find((l) => l.service === `smtp ${role}`);
      if (!found) throw new Error(`no ${role} listener`);
      return Number(found.address.slice(found.address.lastIndexOf(':') + 1));
    },
    async delivered(domain, user) {
      const box = path.join(config.mailbox.maildir_root!, domain, 'Maildir', user, 'new');
      const names = await readdir(box).catch(() => [] as string[]);
      return Promise.all(names.sort().map((n) => readFile(path.join(box, n))));
    },
    log: () => readFile(logFile, 'utf8').catch(() => ''),
    async stop() {
      await gateway.close();
      if (config.redis.prefix === prefix) await deleteKeys(prefix);
    },
  };
}

/** The parts of a docs/postfix.md recipe the tests adjust (ports, paths); everything else is kept. */
export interface RecipeYaml {
  readonly [key: string]: unknown;
  readonly smtp: { readonly listeners: readonly Record<string, unknown>[]; readonly [key: string]: unknown };
  readonly domains: { readonly postfix?: Record<string, Record<string, unknown>>; readonly [key: string]: unknown };
}

/** The mailbridge.yaml block of recipe `letter` in docs/postfix.md, so the docs are what is tested. */
export async function recipeYaml(letter: 'a' | 'b' | 'c'): Promise<RecipeYaml> {
  return parse(await recipeBlock(letter, 'yaml', 0)) as RecipeYaml;
}

/** The `index`th code block of recipe `letter` in docs/postfix.md; `lang` '' for Postfix's files. */
export async function recipeBlock(letter: 'a' | 'b' | 'c', lang: '' | 'yaml', index: number): Promise<string> {
  const doc = await readFile(path.join(import.meta.dirname, '../../docs/postfix.md'), 'utf8');
  const section = doc.split(/^## /m).find((s) => s.startsWith(`(${letter})`)) ?? '';
  const blocks = [...section.matchAll(/^```(\w*)\n([\s\S]*?)^```/gm)].filter((m) => m[1] === lang).map((m) => m[2]!);
  if (blocks[index] === undefined)
    throw new Error(`docs/postfix.md recipe (${letter}) has no code block ${lang} #${index}`);
  return blocks[index];
}

/** main.cf lines (`name = value`, comments skipped) as settings. */
export function mainCf(text: string): Record<string, string> {
  const lines = text.split('\n').filter((l) => /^\w+\s*=/.test(l));
  return Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf('=')).trim(), l.slice(l.indexOf('=') + 1).trim()]));
}

/** Polls until `files` returns at least `count` files; the failure message carries `logs`. */
export async function waitForFiles(
  files: () => Promise<Buffer[]>,
  count: number,
  logs: () => Promise<string>,
  timeoutMs = 15_000,
): Promise<Buffer[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await files();
    if (found.length >= count) return found;
    if (Date.now() > deadline)
      throw new Error(`expected ${count} file(s), found ${found.length}; logs:\n${(await logs()).slice(-6000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The part of a delivered file from `original`'s first line on, with LF line ends as Postfix's virtual(8) writes them. */
export function fromFirstLine(delivered: Buffer, original: string): string {
  const text = delivered.toString('utf8');
  const first = original.slice(0, original.indexOf('\n') + 1).replace(/\r?\n$/, '');
  const at = text.indexOf(first);
  if (at < 0) throw new Error(`"${first}" not found in:\n${text}`);
  return text.slice(at);
}
