// `mailbridge node adopt --from NODE_ID --spool DIR -c FILE`: the operator drill for a fleet node
// whose machine died: this node takes over the dead node's spool folder and queued jobs, and serves
// the pulls of the copies it held. The work itself lives in src/admin/node-adoption.ts.

import { adoptNode } from '../admin/node-adoption.js';
import { createLogger } from '../log.js';
import { MailQueues } from '../queue/queues.js';
import { createRedisConnection, waitReady } from '../queue/redis-connection.js';
import { spoolFromConfig } from '../spool/spool-from-config.js';
import { type Command, exitCode, loadCommandConfig, parseOptions, UsageError } from './command.js';

const help = [
  'Usage: mailbridge node adopt --from NODE_ID --spool DIR -c FILE',
  '',
  "Takes over a dead fleet node's disk: moves every entry of DIR/entries/ (that node's spool.dir,",
  "mounted here) into this node's spool, records the PMTP copies it held as this node's, moves its",
  "queued jobs to this node's queues and gives any entry without a job its job back. The dead node",
  'must stay stopped. Safe to run again after an interruption.',
  'Exit codes: 0 done, 2 config error, 64 usage, 69 Redis unreachable or no fleet node here,',
  '70 failed part-way (run it again).',
].join('\n');

export const nodeCommand: Command = {
  summary: "adopt a dead fleet node's spool and queued mail (operator drill)",
  help,
  async run(argv, context) {
    const { values, positionals } = parseOptions(
      argv,
      { config: { type: 'string', short: 'c' }, from: { type: 'string' }, spool: { type: 'string' } },
      true,
    );
    if (positionals[0] !== 'adopt' || positionals.length !== 1) throw new UsageError('the only action is adopt');
    if (!values.config || !values.from || !values.spool) throw new UsageError('--from, --spool and -c are required');
    const config = await loadCommandConfig(values.config, context);
    if (!config) return exitCode.configError;
    if (!config.node) {
      // not a broken config: this gateway offers no fleet service to adopt into
      context.stderr.write('mailbridge node: this gateway is no fleet node (its config has no node section)\n');
      return exitCode.unavailable;
    }
    const redis = createRedisConnection(config, 'producer');
    redis.on('error', () => undefined); // reported once below, not per reconnect
    const queues = new MailQueues(config, redis);
    try {
      try {
        await waitReady(redis);
      } catch {
        context.stderr.write('mailbridge node: cannot reach Redis\n');
        return exitCode.unavailable;
      }
      const spool = spoolFromConfig({ ...config.spool, instance: undefined });
      const log = createLogger({ log: { ...config.log, file: undefined } }, context.stderr);
      const done = await adoptNode({ config, redis, queues, spool, log }, values.from, values.spool);
      context.stdout.write(
        `adopted node ${values.from}: ${done.entries} spool entries (${done.outboxCopies} PMTP copies), ${done.jobs} jobs moved, ${done.requeued} entries requeued\n`,
      );
      return exitCode.ok;
    } catch (err) {
      context.stderr.write(`mailbridge node: ${err instanceof Error ? err.message : String(err)}\n`);
      return exitCode.software;
    } finally {
      await queues.close();
      redis.disconnect();
    }
  },
};
