// `mailbridge start -c FILE`: runs the gateway until SIGTERM or SIGINT, then shuts down
// gracefully: stop accepting, finish in-flight jobs, close connections. A second signal forces exit.

import { startGateway } from '../gateway.js';
import { createLogger, reopenLogFile } from '../log.js';
import { ConfigReloader } from '../observability/reload.js';
import { type Command, exitCode, loadCommandConfig, parseOptions } from './command.js';

export const startCommand: Command = {
  summary: 'run the gateway (SMTP listeners, PMTP endpoint, queue workers)',
  help: [
    'Usage: mailbridge start -c FILE',
    '',
    'Runs until SIGTERM/SIGINT. Logs JSON lines to stderr (or log.file).',
  ].join('\n'),
  async run(argv, { env, stdout, stderr }) {
    const { values } = parseOptions(argv, { config: { type: 'string', short: 'c' } });
    if (!values.config) {
      stderr.write(`${this.help}\n`);
      return exitCode.usage;
    }
    const config = await loadCommandConfig(values.config, { env, stderr });
    if (!config) return exitCode.configError;
    const log = createLogger(config);
    let gateway;
    try {
      gateway = await startGateway(config, log);
    } catch (err) {
      log.fatal({ err }, 'start failed');
      stderr.write(`mailbridge: ${err instanceof Error ? err.message : String(err)}\n`);
      return exitCode.unavailable;
    }
    for (const { service, address } of gateway.listening) stdout.write(`${service} listening on ${address}\n`);
    stdout.write(`mailbridge started (spool ${config.spool.dir}, ${gateway.recovered.requeued.length} requeued)\n`);

    const stopReloading = new ConfigReloader({
      file: values.config,
      env,
      config,
      log,
      parts: gateway.reloadables,
    }).listen();
    let stopping = false;
    const stop = (signal: string): void => {
      if (stopping) {
        log.warn({ signal }, 'second signal: exiting now');
        process.exit(exitCode.software);
      }
      stopping = true;
      stopReloading();
      log.info({ signal }, 'shutting down');
      gateway.close().then(
        () => process.exit(exitCode.ok),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.exit(exitCode.software);
        },
      );
    };
    // logrotate's postrotate: `systemctl reload` (SIGHUP, which also reloads config) or kill -USR2
    // (SIGUSR1 belongs to Node's inspector)
    const reopen = (signal: string) => {
      if (reopenLogFile(log)) log.info({ signal, file: config.log.file }, 'log file reopened');
    };
    process.on('SIGHUP', () => reopen('SIGHUP'));
    process.on('SIGUSR2', () => reopen('SIGUSR2'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    return -1;
  },
};
