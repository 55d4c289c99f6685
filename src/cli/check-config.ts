// `mailbridge check-config FILE`: validates a config and the files it names, printing every problem
// with its key and line. Exit 0 when valid, 2 when not (scripts test for that), 64 on wrong usage.

import { readFile } from 'node:fs/promises';
import { checkReferencedFiles } from '../config/file-checks.js';
import { ConfigError, formatProblem, lineOfKey, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { type Command, exitCode, parseOptions } from './command.js';

export const checkConfigCommand: Command = {
  summary: 'validate a config file and the files it names; print each problem with its key and line',
  help: [
    'Usage: mailbridge check-config [--no-files] FILE',
    '',
    'Prints "FILE: ok" and exits 0 when valid. Otherwise prints one line per problem,',
    '"FILE:LINE: key.path: message", and exits 2. A value set by an environment variable',
    'names the variable instead of a line.',
    '',
    'It also checks the files the config names, as the user it runs as: keys and certificates',
    'readable, folders (spool.dir, mailbox.maildir_root) writable or creatable. A private key',
    'readable by others is a warning. --no-files skips these checks (a config checked on',
    'another machine than the one it runs on).',
  ].join('\n'),
  async run(argv, { env, stdout, stderr }) {
    const { values, positionals } = parseOptions(argv, { 'no-files': { type: 'boolean', default: false } }, true);
    const file = positionals[0];
    if (file === undefined || positionals.length > 1) {
      stderr.write(`${this.help}\n`);
      return exitCode.usage;
    }
    let config: Config;
    try {
      config = await loadConfig(file, env, (warning) => stderr.write(`${formatProblem(file, warning)}\n`));
    } catch (err) {
      if (err instanceof ConfigError) {
        for (const problem of err.problems) stderr.write(`${formatProblem(file, problem)}\n`);
        return exitCode.configError;
      }
      stderr.write(`${file}: ${err instanceof Error ? err.message : String(err)}\n`);
      return exitCode.configError;
    }
    if (!values['no-files']) {
      const problems = await checkReferencedFiles(config);
      const text = await readFile(file, 'utf8');
      for (const p of problems) {
        const line = lineOfKey(text, p.key);
        const message = p.severity === 'warning' ? `warning: ${p.message}` : p.message;
        stderr.write(`${formatProblem(file, { key: p.key, line, message })}\n`);
      }
      if (problems.some((p) => p.severity === 'error')) return exitCode.configError;
    }
    stdout.write(`${file}: ok\n`);
    return exitCode.ok;
  },
};
