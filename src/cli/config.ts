// `mailbridge config [-n] -c FILE [KEY...]`: the effective configuration, one `key = value` line per
// setting, like Postfix's postconf: every key with its default, or with -n only what the file (or an
// environment variable) sets. Paths are shown resolved; passwords in URLs are masked.

import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { envOverrides } from '../config/schema.js';
import { type Command, exitCode, loadCommandConfig, parseOptions } from './command.js';

const help = [
  'Usage: mailbridge config [-n] [--json] -c FILE [KEY...]',
  '',
  'Prints the effective configuration as "key = value" lines (postconf), every key with its',
  'default. -n prints only keys the file or an environment variable sets (postconf -n).',
  'KEY limits the output to keys equal to or under it, e.g. `pmtp` or `smtp.listeners.0`.',
  '--json prints one JSON object instead. Exit 0, 2 for a bad config, 64 on wrong usage.',
].join('\n');

export const configCommand: Command = {
  summary: 'print the effective configuration, with defaults (postconf; -n: only what is set)',
  help,
  async run(argv, { env, stdout, stderr }) {
    const { values, positionals } = parseOptions(
      argv,
      {
        config: { type: 'string', short: 'c' },
        n: { type: 'boolean', short: 'n', default: false },
        json: { type: 'boolean', default: false },
      },
      true,
    );
    if (!values.config) {
      stderr.write(`${help}\n`);
      return exitCode.usage;
    }
    const config = await loadCommandConfig(values.config, { env, stderr });
    if (!config) return exitCode.configError;
    let settings = flatten(config);
    if (values.n) {
      const set = explicitKeys(parse(await readFile(values.config, 'utf8')) ?? {}, env);
      settings = settings.filter(([key]) => set.some((s) => key === s || key.startsWith(`${s}.`)));
    }
    if (positionals.length > 0)
      settings = settings.filter(([key]) => positionals.some((p) => key === p || key.startsWith(`${p}.`)));
    stdout.write(
      values.json
        ? `${JSON.stringify(Object.fromEntries(settings))}\n`
        : settings.map(([key, value]) => `${key} = ${format(value)}\n`).join(''),
    );
    return exitCode.ok;
  },
};

type Setting = [key: string, value: unknown];

/** Leaf settings in dotted form; an empty list or map is one setting, so defaults like `[]` show. */
export function flatten(value: unknown, prefix = ''): Setting[] {
  const children: [string, unknown][] = Array.isArray(value)
    ? value.map((v, i) => [String(i), v])
    : typeof value === 'object' && value !== null
      ? Object.entries(value)
      : [];
  if (children.length === 0) return prefix === '' ? [] : [[prefix, mask(prefix, value)]];
  return children
    .filter(([, v]) => v !== undefined)
    .flatMap(([k, v]) => flatten(v, prefix === '' ? k : `${prefix}.${k}`));
}

/** The keys a file sets (leaves of its YAML) plus those an environment variable overrides. */
function explicitKeys(raw: unknown, env: Readonly<Record<string, string | undefined>>): string[] {
  const fromFile = flatten(raw).map(([key]) => key);
  const fromEnv = Object.entries(envOverrides)
    .filter(([name]) => env[name] !== undefined && env[name] !== '')
    .map(([, keyPath]) => keyPath.join('.'));
  return [...fromFile, ...fromEnv];
}

function mask(key: string, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  if (key.endsWith('password')) return '****';
  if (!key.endsWith('url')) return value;
  return value.replace(/^([a-z]+:\/\/[^:/@]*:)[^@]*@/i, '$1****@');
}

function format(value: unknown): string {
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}
