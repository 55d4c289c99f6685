// `mailbridge report [--since 7d] [--json] -c FILE`: the weekly migration answer, from the traffic
// ledger in Redis: each peer domain with its protocol and counts each way, the PMTP share, and
// the legacy correspondents to migrate next. Exit 0, 64 usage, 69 Redis unreachable.

import { type MigrationReport, migrationReport } from '../admin/migration-report.js';
import { TrafficLedger } from '../observability/traffic-ledger.js';
import { connectRedis } from '../queue/redis-connection.js';
import { type Command, exitCode, loadCommandConfig, parseDuration, parseOptions, UsageError } from './command.js';

const help = [
  'Usage: mailbridge report [--since 7d] [--top N] [--json] -c FILE',
  '',
  'Per peer domain over the last --since (whole UTC days, default 7d, at most 400d): pmtp or legacy,',
  'messages and bytes in and out over SMTP and over PMTP, and first-contact outcomes (received:',
  'what we answered its notices; sent: what it answered ours). Then the PMTP share of all mail and',
  'the --top N (default 10) legacy-only domains by volume: the correspondents to migrate next.',
].join('\n');

export const reportCommand: Command = {
  summary: 'the migration report: peer domains by protocol, mail each way, who to migrate next',
  help,
  async run(argv, { env, stdout, stderr }) {
    const { values } = parseOptions(argv, {
      config: { type: 'string', short: 'c' },
      since: { type: 'string', default: '7d' },
      top: { type: 'string', default: '10' },
      json: { type: 'boolean', default: false },
    });
    const days = Math.ceil(parseDuration(values.since ?? '7d') / 86_400);
    const top = Number(values.top);
    if (days < 1 || days > 400) throw new UsageError('--since must be between 1d and 400d');
    if (!Number.isSafeInteger(top) || top < 1) throw new UsageError('--top must be a positive integer');
    if (!values.config) {
      stderr.write(`${help}\n`);
      return exitCode.usage;
    }
    const config = await loadCommandConfig(values.config, { env, stderr });
    if (!config) return exitCode.configError;
    const redis = connectRedis(config.redis, { maxRetriesPerRequest: 1, connectTimeout: 2000, lazyConnect: true });
    try {
      await redis.connect();
      const peers = await new TrafficLedger(redis, config.redis.prefix).peers(days, new Date());
      const report = migrationReport(peers, days, top);
      stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
      return exitCode.ok;
    } catch (err) {
      stderr.write(`mailbridge report: ${err instanceof Error ? err.message : String(err)}\n`);
      return exitCode.unavailable;
    } finally {
      redis.disconnect();
    }
  },
};

export function formatReport(r: MigrationReport): string {
  const width = Math.max(6, ...r.peers.map((p) => p.domain.length));
  const lines = [
    `Migration report, last ${r.days} day(s) (UTC)`,
    '',
    `${'domain'.padEnd(width)}  proto   smtp-in smtp-out  pmtp-in pmtp-out      bytes  first contact`,
  ];
  for (const p of r.peers) {
    const bytes = p.bytes.in.smtp + p.bytes.out.smtp + p.bytes.in.pmtp + p.bytes.out.pmtp;
    const contact = (['received', 'sent'] as const)
      .flatMap((side) =>
        Object.entries(p.firstContact[side]).map(
          ([outcome, n]) => `${side === 'received' ? 'gave' : 'got'} ${outcome} ${n}`,
        ),
      )
      .join(', ');
    lines.push(
      [
        p.domain.padEnd(width),
        p.protocol.padEnd(6),
        String(p.messages.in.smtp).padStart(8),
        String(p.messages.out.smtp).padStart(8),
        String(p.messages.in.pmtp).padStart(8),
        String(p.messages.out.pmtp).padStart(8),
        String(bytes).padStart(10),
        contact || '-',
      ].join(' '),
    );
  }
  if (r.peers.length === 0) lines.push('(no mail recorded)');
  const { smtpMessages, pmtpMessages, pmtpShare } = r.totals;
  lines.push(
    '',
    `Messages: ${pmtpMessages} over PMTP, ${smtpMessages} over SMTP (PMTP share ${(pmtpShare * 100).toFixed(1)}%)`,
    `Migrate next: ${r.migrateNext.map((m) => `${m.domain} (${m.messages})`).join(', ') || '-'}`,
  );
  return `${lines.join('\n')}\n`;
}
