// `npm run bench -- scaling`: how durable accept (full checks, as in smtp-in) grows with message
// size (1 kB to 1 MB) and with recipients per message (1 to 1,000), at 20 sessions over reused
// connections, so the per-connection cost stays out of the figures.

import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { acceptConfig, acceptFixtures, smtpSource, startAcceptingSide } from './accept-side.js';
import { deleteKeys } from './bench-support.js';
import type { Benchmark, Row } from './benchmark.js';

const sessions = 20;
/** body octets -> messages per run: fewer for big bodies, so each row takes a few seconds */
const sizes = [
  [1_000, 400],
  [10_000, 400],
  [100_000, 150],
  [1_000_000, 30],
] as const;
/** recipients per message -> messages per run */
const fanouts = [
  [1, 400],
  [10, 200],
  [100, 60],
  [1000, 10],
] as const;

export const benchmark: Benchmark = {
  summary: 'durable accept with full checks for 1 kB..1 MB messages and 1..1,000 recipients (20 sessions, -d)',
  async run({ messages: cap, env, log }) {
    const prefix = `{mbbench-${randomBytes(4).toString('hex')}}`;
    const dir = await mkdtemp(path.join(tmpdir(), 'mailbridge-bench-scale-'));
    const cleanups: (() => Promise<void>)[] = [() => rm(dir, { recursive: true, force: true })];
    try {
      const fixtures = await acceptFixtures(dir);
      const config = await acceptConfig(dir, prefix, env);
      cleanups.push(() => deleteKeys(config.redis.url, prefix));
      const mailbridge = await startAcceptingSide(config);
      cleanups.unshift(() => mailbridge.close());
      const entries = path.join(config.spool.dir, 'entries');
      const timed = async (file: string, messages: number, recipients: number): Promise<number> => {
        const before = (await readdir(entries)).length;
        const ms = await smtpSource(mailbridge.port, {
          sessions: Math.min(sessions, messages),
          messages,
          file,
          reuse: true,
          recipients,
        });
        const accepted = (await readdir(entries)).length - before;
        if (accepted !== messages) throw new Error(`mailbridge spooled ${accepted} of ${messages} messages`);
        return ms;
      };
      const small = await fixtures.messageFile('message-3k.txt', 3000);
      await timed(small, 200, 1); // warm-up

      const bySize: Row[] = [];
      for (const [bytes, count] of sizes) {
        const messages = Math.min(count, cap ?? count);
        const file = await fixtures.messageFile(`message-${bytes}.txt`, bytes);
        const ms = await timed(file, messages, 1);
        const rate = (messages * 1000) / ms;
        // the whole message as sent: headers and DKIM signature too
        const octets = (await stat(file)).size;
        bySize.push({ label: sizeLabel(bytes), values: { messages, octets, rate, mbps: (rate * octets) / 1e6 } });
        log(`${sizeLabel(bytes)}: ${rate.toFixed(1)} msg/s`);
      }
      const byFanout: Row[] = [];
      for (const [recipients, count] of fanouts) {
        const messages = Math.min(count, cap ?? count);
        const ms = await timed(small, messages, recipients);
        const rate = (messages * 1000) / ms;
        byFanout.push({
          label: `${recipients} recipient${recipients > 1 ? 's' : ''}`,
          values: { messages, rate, rcptRate: rate * recipients },
        });
        log(`${recipients} recipients: ${rate.toFixed(1)} msg/s`);
      }
      return [
        {
          id: 'size',
          rowHeader: 'body size (1 recipient)',
          columns: [
            { key: 'messages', label: 'messages', digits: 0 },
            { key: 'octets', label: 'message octets', digits: 0 },
            { key: 'rate', label: 'msg/s', digits: 1 },
            { key: 'mbps', label: 'MB/s', digits: 2 },
          ],
          rows: bySize,
        },
        {
          id: 'recipients',
          rowHeader: 'recipients per message (3 kB)',
          columns: [
            { key: 'messages', label: 'messages', digits: 0 },
            { key: 'rate', label: 'msg/s', digits: 1 },
            { key: 'rcptRate', label: 'recipients/s', digits: 0 },
          ],
          rows: byFanout,
        },
      ];
    } finally {
      for (const cleanup of cleanups)
        await cleanup().catch((err: unknown) => process.stderr.write(`bench cleanup: ${String(err)}\n`));
    }
  },
};

export function sizeLabel(bodyBytes: number): string {
  return bodyBytes >= 1e6 ? `${bodyBytes / 1e6} MB` : `${bodyBytes / 1000} kB`;
}
