// `mailbridge staging`: starts a whole network on loopback and prints exactly one JSON ready line
// on stdout. Logs go to files in DIR; stdout carries nothing else, so scripts can read the line.

import { startStaging } from '../staging/staging-network.js';
import { type Command, exitCode, parseOptions, UsageError } from './command.js';

const help = [
  'Usage: mailbridge staging --domains D1,D2 --dir DIR [--legacy L1,L2] [--zone FILE] [--redis URL]',
  '                          [--retry SECONDS] [--external-legacy] [--log-level LEVEL]',
  '',
  'For each --domains entry: an mx and a submission listener and a PMTP endpoint on free loopback',
  'ports, keys in DIR/<domain>/keys, mail delivered to DIR/<domain>/Maildir/<user>/new/, and a',
  'submission account postmaster@<domain> with a generated password. Each --legacy entry is a plain',
  'SMTP server (no PMTP) storing to DIR/<domain>/Maildir/<user>/new/. DNS is DIR/zone.db, merged',
  'with --zone. Ports, keys and passwords are kept in DIR/staging.json and reused on restart.',
  '',
  'When ready, prints one line to stdout:',
  '  {"ready":true,"dir":"...","domains":{"alpha.test":{"mx":"127.0.0.1:P","submission":"127.0.0.1:P",',
  '   "pmtp":"http://127.0.0.1:P","user":"postmaster@alpha.test","password":"..."}},"legacy":{...}}',
  'Redis: --redis (and only it), else REDIS_URL, else 127.0.0.1:6379, else a private redis-server with',
  'AOF in DIR/redis.',
  '',
  'Logs: JSON lines to DIR/<domain>/mailbridge.log at LEVEL (default info; also warn, debug, silent...).',
  '',
  'Fault drills: --retry SECONDS retries deferred mail, and a PMTP peer found down, every SECONDS',
  "instead of Postfix's 300 s doubling schedule and a 300 s pause. --external-legacy plans the legacy",
  'ports (in the ready line) and routes mail to them but starts no store: the caller runs one there',
  'and may stop it to play a remote site that is down.',
  '',
  'Example: mailbridge staging --domains alpha.test,beta.test --legacy legacy.test --dir ./stage',
].join('\n');

const list = (value: string | undefined): string[] =>
  (value ?? '')
    .split(',')
    .map((d) => d.trim().toLowerCase().replace(/\.$/, ''))
    .filter((d) => d !== '');

export const stagingCommand: Command = {
  summary: 'run a whole staging network (native and legacy domains) on loopback',
  help,
  async run(argv, { env, stdout, stderr }) {
    let values;
    try {
      ({ values } = parseOptions(argv, {
        domains: { type: 'string' },
        legacy: { type: 'string' },
        zone: { type: 'string' },
        dir: { type: 'string' },
        redis: { type: 'string' },
        'log-level': { type: 'string' },
        retry: { type: 'string' },
        'external-legacy': { type: 'boolean' },
      }));
      if (!values.dir || list(values.domains).length === 0) throw new UsageError('--domains and --dir are required');
      if (values.retry !== undefined && !/^[1-9]\d*$/.test(values.retry))
        throw new UsageError('--retry takes a whole number of seconds');
    } catch (err) {
      stderr.write(`mailbridge staging: ${err instanceof Error ? err.message : String(err)}\n\n${help}\n`);
      return exitCode.usage;
    }
    // mailauth prints debugging lines with console.log; stdout belongs to the ready line
    console.log = (...args: unknown[]) => console.error(...args);
    let network;
    try {
      network = await startStaging({
        dir: values.dir,
        domains: list(values.domains),
        legacy: list(values.legacy),
        zoneFile: values.zone,
        redis: values.redis,
        env,
        logLevel: values['log-level'],
        retrySeconds: values.retry === undefined ? undefined : Number(values.retry),
        externalLegacy: values['external-legacy'] ?? false,
      });
    } catch (err) {
      stderr.write(`mailbridge staging: ${err instanceof Error ? err.message : String(err)}\n`);
      return exitCode.unavailable;
    }
    stdout.write(`${JSON.stringify(network.ready)}\n`);
    let stopping = false;
    const stop = (): void => {
      if (stopping) process.exit(exitCode.software);
      stopping = true;
      network.close().then(
        () => process.exit(exitCode.ok),
        (err: unknown) => {
          stderr.write(`mailbridge staging: shutdown failed: ${String(err)}\n`);
          process.exit(exitCode.software);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    return -1;
  },
};
