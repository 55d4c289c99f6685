// `mailbridge check-config FILE`: validates a config and prints every problem with its key and line.
// Exit 0 when valid, 2 when not (scripts test for that), 64 on wrong usage.

import { ConfigError, formatProblem, loadConfig } from '../config/load.js';
import { type Command, exitCode, parseOptions } from './command.js';

export const checkConfigCommand: Command = {
  summary: 'validate a config file; print each problem with its key and line',
  help: [
    'Usage: mailbridge check-config FILE',
    '',
    'Prints "FILE: ok" and exits 0 when valid. Otherwise prints one line per problem,',
    '"FILE:LINE: key.path: message", and exits 2.',
  ].join('\n'),
  async run(argv, { env, stdout, stderr }) {
    const { positionals } = parseOptions(argv, {}, true);
    const file = positionals[0];
    if (file === undefined || positionals.length > 1) {
      stderr.write(`${this.help}\n`);
      return exitCode.usage;
    }
    try {
      await loadConfig(file, env, (warning) => stderr.write(`${formatProblem(file, warning)}\n`));
    } catch (err) {
      if (err instanceof ConfigError) {
        for (const problem of err.problems) stderr.write(`${formatProblem(file, problem)}\n`);
        return exitCode.configError;
      }
      stderr.write(`${file}: ${err instanceof Error ? err.message : String(err)}\n`);
      return exitCode.configError;
    }
    stdout.write(`${file}: ok\n`);
    return exitCode.ok;
  },
};
