#!/usr/bin/env node
// The `mailbridge` command: reads argv, hands the environment to the config loader once,
// and runs one subcommand. Each subcommand lives in its own file and exits with its own code.

import { createRequire } from 'node:module';
import { envOverrides } from '../config/schema.js';
import { checkConfigCommand } from './check-config.js';
import { type Command, exitCode, UsageError } from './command.js';
import { configCommand } from './config.js';
import { demoCommand } from './demo.js';
import { keysCommand } from './keys.js';
import { nodeCommand } from './node.js';
import { passwdCommand } from './passwd.js';
import { queueCommand } from './queue.js';
import { reportCommand } from './report.js';
import { stagingCommand } from './staging.js';
import { startCommand } from './start.js';
import { statusCommand } from './status.js';
import { tokensCommand } from './tokens.js';

const commands: Record<string, Command> = {
  start: startCommand,
  'check-config': checkConfigCommand,
  config: configCommand,
  keys: keysCommand,
  passwd: passwdCommand,
  staging: stagingCommand,
  queue: queueCommand,
  node: nodeCommand,
  status: statusCommand,
  report: reportCommand,
  tokens: tokensCommand,
  demo: demoCommand,
};

function usage(): string {
  const lines = [
    'mailbridge: a gateway between SMTP and PMTP/1, the pull-based signed mail protocol',
    '',
    'Usage: mailbridge <command> [options]',
    '',
    'Commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(14)} ${c.summary}`),
    '',
    'Examples:',
    '  mailbridge check-config /etc/mailbridge/mailbridge.yaml',
    '  mailbridge start -c /etc/mailbridge/mailbridge.yaml',
    '  mailbridge config -n -c /etc/mailbridge/mailbridge.yaml',
    '  mailbridge keys generate --domain example.org --out /etc/mailbridge/keys',
    '  printf "%s\\n" "$PASSWORD" | mailbridge passwd',
    '  mailbridge queue list -c /etc/mailbridge/mailbridge.yaml',
    '  mailbridge status 01N85H91F4WC57BYV5 --json -c /etc/mailbridge/mailbridge.yaml',
    '  mailbridge report --since 7d -c /etc/mailbridge/mailbridge.yaml',
    '  mailbridge tokens issue --recipient bob@example.org --scope orders@shop.example --max-uses 3 -c FILE',
    '  mailbridge node adopt --from mx2 --spool /mnt/mx2-spool -c /etc/mailbridge/mailbridge.yaml',
    '  mailbridge staging --domains alpha.test,beta.test --legacy legacy.test --dir ./stage',
    '',
    "Run `mailbridge <command> --help` for a command's options.",
    `Environment: ${Object.entries(envOverrides)
      .map(([name, key]) => `${name} (${key.join('.')})`)
      .join(', ')} override config keys.`,
  ];
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? 64 : 0;
  }
  if (name === '--version') {
    process.stdout.write(`mailbridge ${version()}\n`);
    return 0;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`mailbridge: unknown command '${name}'\n\n${usage()}\n`);
    return 64;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.help}\n`);
    return 0;
  }
  try {
    return await command.run(rest, {
      env: process.env,
      stdout: process.stdout,
      stderr: process.stderr,
      stdin: process.stdin,
    });
  } catch (err) {
    // a bad option is the caller's mistake, whatever command it reached (sysexits EX_USAGE)
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`mailbridge ${name}: ${err.message}\n\n${command.help}\n`);
    return exitCode.usage;
  }
}

/** The installed package's version: src/cli and dist/cli both sit two folders below package.json. */
function version(): string {
  return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
}

main(process.argv.slice(2)).then(
  (code) => {
    // `start` keeps running until a signal; everything else exits with its code
    if (code !== -1) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`mailbridge: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = exitCode.software;
  },
);
