// `mailbridge queue list|show|retry|delete|flush -c FILE`: the operator's view of queued mail, like
// Postfix's postqueue -p/-j/-f and postsuper -r/-d, with filters and bulk actions. It opens its own
// Redis connection and reads the spool; the gathering and the actions live in src/admin/.

import { QueueAdmin } from '../admin/queue-admin.js';
import { isEmptyFilter, matchesFilter, type QueueFilter } from '../admin/queue-filter.js';
import { QueueInspector } from '../admin/queue-inspection.js';
import { DeliveryStatusStore } from '../queue/delivery-status.js';
import { HeldMessages } from '../queue/held-messages.js';
import { MailQueues } from '../queue/queues.js';
import { createRedisConnection, waitReady } from '../queue/redis-connection.js';
import { isQueueId } from '../spool/queue-id.js';
import { spoolFromConfig } from '../spool/spool-from-config.js';
import {
  type Command,
  type CommandContext,
  exitCode,
  loadCommandConfig,
  parseDuration,
  parseOptions,
  UsageError,
} from './command.js';
import { formatDetail, formatList, jsonRecord } from './queue-format.js';

const help = [
  'Usage: mailbridge queue list [FILTER] [--json] -c FILE      queued messages (postqueue -p / -j)',
  '       mailbridge queue show ID [--json] -c FILE           meta, status and first header lines of one message',
  '       mailbridge queue retry ID|FILTER|--all -c FILE      run delayed or failed messages now (postsuper -r)',
  '       mailbridge queue flush -c FILE                      run every delayed message now (postqueue -f)',
  '       mailbridge queue delete ID|FILTER|--all -c FILE     remove messages and their jobs (postsuper -d)',
  '       mailbridge queue hold ID|FILTER|--all -c FILE       keep messages from delivery until released (postsuper -h)',
  '       mailbridge queue release ID|FILTER|--all -c FILE    deliver held messages again, now (postsuper -H)',
  '',
  'FILTER: any of --domain D (sender or recipient domain), --sender ADDR (<> for the null sender),',
  '--state S (held; a job state: waiting, active, delayed, failed; or a recipient state: queued, deferred),',
  '--older-than AGE, --newer-than AGE (AGE: 30m, 12h, 2d). A bulk action needs a filter or --all.',
  '',
  'Marks after the queue id: * being delivered now, ! failed (waits for `queue retry`), # held.',
  'Exit codes: 0 done, 64 usage, 65 no such message, 69 Redis unreachable, 75 message busy (try again).',
].join('\n');

interface Tools {
  readonly inspector: QueueInspector;
  readonly admin: QueueAdmin;
}

export const queueCommand: Command = {
  summary: 'list, show, retry, flush, hold, release or delete queued mail (postqueue/postsuper)',
  help,
  async run(argv, context) {
    let parsed;
    let filter: QueueFilter;
    try {
      parsed = parseOptions(
        argv,
        {
          config: { type: 'string', short: 'c' },
          json: { type: 'boolean', default: false },
          all: { type: 'boolean', default: false },
          domain: { type: 'string' },
          sender: { type: 'string' },
          state: { type: 'string' },
          'older-than': { type: 'string' },
          'newer-than': { type: 'string' },
        },
        true,
      );
      filter = filterOf(parsed.values);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      context.stderr.write(`${err.message}\n${help}\n`);
      return exitCode.usage;
    }
    const [action, id, ...extra] = parsed.positionals;
    const bulk = parsed.values.all === true || !isEmptyFilter(filter);
    const takesId =
      action === 'show' || action === 'retry' || action === 'delete' || action === 'hold' || action === 'release';
    // show needs an id; retry and delete need an id or a selection, never both; list and flush no id
    const idOk =
      action === 'show'
        ? id !== undefined && !bulk
        : takesId
          ? (id !== undefined) !== bulk
          : id === undefined && (action === 'list' ? parsed.values.all !== true : !bulk);
    if (!(takesId || action === 'list' || action === 'flush') || !parsed.values.config || extra.length > 0 || !idOk) {
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
      // its own tmp/<instance>/, never the running gateway's
      const spool = spoolFromConfig({ ...config.spool, instance: undefined });
      const status = new DeliveryStatusStore(redis, config.redis.prefix);
      const held = new HeldMessages(redis, config.redis.prefix);
      const tools = {
        inspector: new QueueInspector({ spool, queues, status, held }),
        admin: new QueueAdmin({ spool, queues, status, held }),
      };
      if (bulk && action !== 'list') return await performBulk(action, filter, tools, context);
      return await perform(action, id, filter, parsed.values.json ?? false, tools, context);
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

function filterOf(values: {
  domain?: string;
  sender?: string;
  state?: string;
  'older-than'?: string;
  'newer-than'?: string;
}): QueueFilter {
  return {
    domain: values.domain,
    sender: values.sender,
    state: values.state,
    olderThanS: values['older-than'] === undefined ? undefined : parseDuration(values['older-than']),
    newerThanS: values['newer-than'] === undefined ? undefined : parseDuration(values['newer-than']),
  };
}

/** retry or delete every message the filter selects (an empty filter is --all), one line each. */
async function performBulk(
  action: string,
  filter: QueueFilter,
  tools: Tools,
  { stdout, stderr }: CommandContext,
): Promise<number> {
  const now = Date.now();
  const selected = (await tools.inspector.list()).filter((m) => matchesFilter(m, filter, now));
  let busy = 0;
  for (const { queueId } of selected) {
    if (action === 'retry') {
      const outcomes = await tools.admin.retry(queueId);
      const acted = outcomes.filter((o) => o.action !== 'unchanged').map((o) => `${o.queue} ${o.action}`);
      stdout.write(`${queueId}: ${acted.join(', ') || 'nothing to retry'}\n`);
      continue;
    }
    if (action === 'hold' || action === 'release') {
      const outcome = action === 'hold' ? await tools.admin.hold(queueId) : await tools.admin.release(queueId);
      if (outcome.done) stdout.write(`${queueId}: ${action === 'hold' ? 'held' : 'released'}\n`);
      else if (outcome.reason === 'active') {
        busy++;
        stderr.write(`${queueId}: being delivered now (${outcome.queue}); not held\n`);
      }
      continue;
    }
    const outcome = await tools.admin.delete(queueId);
    if (outcome.deleted) stdout.write(`${queueId}: deleted\n`);
    else if (outcome.reason === 'active') {
      busy++;
      stderr.write(`${queueId}: being delivered now (${outcome.queue}); not deleted\n`);
    }
  }
  stdout.write(`${selected.length} message(s) selected\n`);
  return busy > 0 ? exitCode.tempFail : exitCode.ok;
}

async function perform(
  action: string,
  id: string | undefined,
  filter: QueueFilter,
  json: boolean,
  tools: Tools,
  { stdout, stderr }: CommandContext,
): Promise<number> {
  switch (action) {
    case 'list': {
      const now = Date.now();
      const messages = (await tools.inspector.list()).filter((m) => matchesFilter(m, filter, now));
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
    case 'hold':
    case 'release': {
      const outcome = action === 'hold' ? await tools.admin.hold(id!) : await tools.admin.release(id!);
      if (outcome.done) {
        stdout.write(`${id}: ${action === 'hold' ? 'held' : 'released'} (jobs: ${outcome.jobs.join(', ')})\n`);
        return exitCode.ok;
      }
      if (outcome.reason === 'active') {
        stderr.write(`mailbridge queue: ${id} is being delivered now (${outcome.queue}); try again shortly\n`);
        return exitCode.tempFail;
      }
      if (outcome.reason === 'not_found') return noSuchMessage(id!, stderr);
      stderr.write(`mailbridge queue: ${id}: ${outcome.reason === 'already' ? 'already held' : 'not held'}\n`);
      return exitCode.dataError;
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
