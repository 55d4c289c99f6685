// `mailbridge status <message-id|queue-id> [--json] -c FILE`: each recipient's state, SMTP and
// PMTP alike (notified … delivered | rejected | expired | retracted | given-up), from Redis.
// Exit 0 when found, 65 when nothing is known of that id, 64 on wrong usage.

import { lookupMessageStatus, type MessageStatusRow } from '../admin/message-status.js';
import { connectRedis } from '../queue/redis-connection.js';
import { type Command, exitCode, loadCommandConfig, parseOptions, UsageError } from './command.js';

const help = [
  'Usage: mailbridge status <message-id|queue-id> [--json] -c FILE',
  '',
  'Prints one line per recipient: recipient, protocol, state, when, detail. Final states are',
  'delivered, rejected (PMTP) / failed (SMTP), expired, retracted and given-up. PMTP has no bounces;',
  'senders of mail accepted over SMTP get DSNs as their NOTIFY asks.',
].join('\n');

export function formatStatusRows(id: string, rows: readonly MessageStatusRow[]): string {
  const lines = [`${id}: ${rows.length} recipient(s), ${rows.filter((r) => !r.final).length} pending`];
  const width = Math.max(9, ...rows.map((r) => r.recipient.length));
  for (const r of rows) {
    lines.push(
      `  ${r.recipient.padEnd(width)}  ${r.protocol.padEnd(4)}  ${r.state.padEnd(10)}  ${r.updatedAt ?? ''}${r.detail ? `  ${r.detail}` : ''}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export const statusCommand: Command = {
  summary: "show each recipient's delivery state for a message (SMTP and PMTP)",
  help,
  async run(argv, { env, stdout, stderr }) {
    let values;
    let id: string | undefined;
    try {
      const parsed = parseOptions(
        argv,
        { config: { type: 'string', short: 'c' }, json: { type: 'boolean', default: false } },
        true,
      );
      values = parsed.values;
      id = parsed.positionals[0];
      if (!values.config || id === undefined || parsed.positionals.length > 1)
        throw new UsageError('an id and -c FILE are required');
    } catch (err) {
      stderr.write(`mailbridge status: ${err instanceof Error ? err.message : String(err)}\n\n${help}\n`);
      return exitCode.usage;
    }
    const config = await loadCommandConfig(values.config, { env, stderr });
    if (!config) return exitCode.configError;
    const redis = connectRedis(config.redis, { maxRetriesPerRequest: 1, connectTimeout: 2000, lazyConnect: true });
    try {
      await redis.connect();
      const rows = await lookupMessageStatus(redis, config.redis.prefix, id);
      if (values.json) stdout.write(`${JSON.stringify({ id, recipients: rows }, null, 2)}\n`);
      else if (rows.length > 0) stdout.write(formatStatusRows(id, rows));
      if (rows.length === 0) {
        if (!values.json) stderr.write(`mailbridge status: nothing known about ${id}\n`);
        return exitCode.dataError;
      }
      return exitCode.ok;
    } catch (err) {
      stderr.write(`mailbridge status: ${err instanceof Error ? err.message : String(err)}\n`);
      return exitCode.unavailable;
    } finally {
      redis.disconnect();
    }
  },
};
