// `mailbridge queue list|show ID|retry ID|delete ID|flush [--json] -c FILE`: the operator's view of
// queued mail, like Postfix's postqueue -p/-j/-f and postsuper -r/-d. It opens its own Redis
// connection and reads the spool; the gathering and the actions live in src/queue/, this file formats.

import { QueueAdmin } from '../admin/queue-admin.js';
import { QueueInspector } from '../admin/queue-inspection.js';
import { DeliveryStatusStore } from '../queue/delivery-status.js';
import { MailQueues } from '../queue/queues.js';
import { createRedisConnection, waitReady } from '../queue/redis-connection.js';
import { isQueueId } from '../spool/queue-id.js';
import { Spool } from '../spool/spool.js';
import { type Command, type CommandContext, exitCode, loadCommandConfig, parseOptions, UsageError } from './command.js';
import { formatDetail, formatList, jsonRecord } from './queue-format.js';

const help = [
  'Usage: mailbridge queue list [--json] -c FILE       every queued message (postqueue -p / -j)',
  '       mailbridge queue show ID [--json] -c FILE    meta, status and first header lines of one message',
  '       mailbridge queue retry ID -c FILE            run a delayed or failed message now (postsuper -r)',
  '       mailbridge queue flush -c FILE               run every delayed message now (postqueue -f)',
  '       mailbridge queue delete ID -c FILE           remove a message and its jobs (postsuper -d)',
  '',
  'Marks after the queue id: * being delivered now, ! failed (waits for `queue retry`).',
  'Exit codes: 0 done, 64 usage, 65 no such message, 69 Redis unreachable, 75 message busy (try again).',
].join('\n');

interface Tools {
  readonly inspector: QueueInspector;
  readonly admin: QueueAdmin;
}

export const queueCommand: Command = {
  summary: 'list, show, retry, flush or delete queued mail (postqueue/postsuper)',
  help,
  async run(argv, context) {
    let parsed;
    try {
      parsed = parseOptions(
        argv,
        { config: { type: 'string', short: 'c' }, json: { type: 'boolean', default: false } },
        true,
      );
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      context.stderr.write(`${err.message}\n${help}\n`);
      return exitCode.usage;
    }
    const [action, id, ...extra] = parsed.positionals;
    const needsId = action === 'show' || action === 'retry' || action === 'delete';
    const known = needsId || action === 'list' || action === 'flush';
    if (!known || !parsed.values.config || extra.length > 0 || needsId !== (id !== undefined)) {
      context.stderr.write(`${help}\n`);
      return exitCode.usage;
    }
    if (id !== undefined && !isQueueId(id)) {
      context.stderr.write(`mailbridge queue: not a queue id: ${id}\n`);
      return exitCode.usage;
    }
    const config = await loadCommandConfig(parsed.values.config, context);
    if (!config) return exitCode.configError;
    const redis = createRedisConnection(config, 'producer');
    redis.on('error', () => undefined); // reported once below, not per reconnect
    const queues = new MailQueues(config, redis);
    try {
      await waitReady(redis).catch(() => {
        throw new Unavailable('cannot reach Redis');
      });
      const spool = new Spool(config.spool.dir);
      const status = new DeliveryStatusStore(redis, config.redis.prefix);
      const tools = {
        inspector: new QueueInspector({ spool, queues, status }),
        admin: new QueueAdmin({ spool, queues, status }),
      };
      return await perform(action, id, parsed.values.json, tools, context);
    } catch (err) {
      context.stderr.write(`mailbridge queue: ${err instanceof Error ? err.message : String(err)}\n`);
      return err instanceof Unavailable ? exitCode.unavailable : exitCode.software;
    } finally {
      await queues.close();
      redis.disconnect();
    }
  },
};

class Unavailable extends Error {}

async function perform(
  action: string,
  id: string | undefined,
  json: boolean,
  tools: Tools,
  { stdout, stderr }: CommandContext,
): Promise<number> {
  switch (action) {
    case 'list': {
      const messages = await tools.inspector.list();
      stdout.write(json ? messages.map((m) => `${JSON.stringify(jsonRecord(m))}\n`).join('') : formatList(messages));
      return exitCode.ok;
    }
    case 'show': {
      const detail = await tools.inspector.show(id!);
      if (!detail) return noSuchMessage(id!, stderr);
      const { meta, headerLines } = detail;
      stdout.write(
        json
          ? `${JSON.stringify({ ...jsonRecord(detail), meta: meta ?? null, header_lines: headerLines })}\n`
          : formatDetail(detail),
      );
      return exitCode.ok;
    }
    case 'retry': {
      const outcomes = await tools.admin.retry(id!);
      if (outcomes.length === 0) return noSuchMessage(id!, stderr);
      for (const o of outcomes)
        stdout.write(
          `${id}: ${o.queue} ${o.state} -> ${o.action === 'unchanged' ? 'unchanged' : `${o.action}, runs now`}\n`,
        );
      return exitCode.ok;
    }
    case 'flush': {
      for (const { queue, promoted } of await tools.admin.flush())
        stdout.write(`${queue}: ${promoted} delayed job(s) run now\n`);
      return exitCode.ok;
    }
    default: {
      const outcome = await tools.admin.delete(id!);
      if (!outcome.deleted && outcome.reason === 'not_found') return noSuchMessage(id!, stderr);
      if (!outcome.deleted) {
        stderr.write(`mailbridge queue: ${id} is being delivered now (${outcome.queue}); try again shortly\n`);
        return exitCode.tempFail;
      }
      stdout.write(
        `${id}: deleted (${outcome.spooled ? 'spool entry' : 'no spool entry'}, jobs: ${outcome.jobs.join(', ') || 'none'}, ${outcome.recipients} recipient(s) marked deleted)\n`,
      );
      return exitCode.ok;
    }
  }
}

function noSuchMessage(id: string, stderr: NodeJS.WritableStream): number {
  stderr.write(`mailbridge queue: ${id}: no such message\n`);
  return exitCode.dataError;
}
