// `npm run bench -- smtp-in`: messages per second accepted durably by the mx listener with full
// checks (SPF, DKIM, DMARC against an offline zone, a DKIM-signed message), at 10, 50 and 200
// sessions, and the same load in the same run against a private Postfix that discards (the
// durable baseline) and Postfix's smtp-sink (the ceiling: the load generator and loopback alone).

import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { acceptConfig, acceptFixtures, smtpSource, startAcceptingSide } from './accept-side.js';
import { deleteKeys, freePort, startSmtpSink } from './bench-support.js';
import type { Benchmark, ResultTable, Row } from './benchmark.js';
import { startPrivatePostfix } from './private-postfix.js';
import { acceptBestRow } from './row-labels.js';

const sessionCounts = [10, 50, 200] as const;

export const benchmark: Benchmark = {
  summary: 'mailbridge mx (SPF+DKIM+DMARC, fsync, Redis job) vs Postfix smtpd+cleanup vs smtp-sink, via smtp-source',
  async run({ messages: fixed, env, log }) {
    const prefix = `{mbbench-${randomBytes(4).toString('hex')}}`;
    const dir = await mkdtemp(path.join(tmpdir(), 'mailbridge-bench-'));
    const cleanups: (() => Promise<void>)[] = [() => rm(dir, { recursive: true, force: true })];
    try {
      const file = await (await acceptFixtures(dir)).messageFile('message.txt', 3000);
      const config = await acceptConfig(dir, prefix, env);
      cleanups.push(() => deleteKeys(config.redis.url, prefix));
      const mailbridge = await startAcceptingSide(config);
      cleanups.unshift(() => mailbridge.close());
      const postfix = await startPrivatePostfix({
        port: await freePort(),
        discard: true,
        maxSessions: Math.max(...sessionCounts),
      });
      cleanups.unshift(() => postfix.stop());
      const sink = await startSmtpSink(Math.max(...sessionCounts) * 2);
      cleanups.unshift(() => sink.stop());
      const entries = path.join(config.spool.dir, 'entries');

      // warm up all three (JIT, process pools) before anything is timed
      for (const port of [mailbridge.port, postfix.port, sink.port])
        await smtpSource(port, { sessions: 10, messages: 200, file, reuse: false });

      const rows: Row[] = [];
      for (const reuse of [false, true]) {
        for (const sessions of sessionCounts) {
          const messages = fixed ?? Math.max(600, sessions * 5);
          const load = { sessions, messages, file, reuse };
          const before = (await readdir(entries)).length;
          // mailbridge runs in this process: its CPU time says whether it waited (disk, Redis) or computed
          const cpu0 = process.cpuUsage();
          const mbMs = await smtpSource(mailbridge.port, load);
          const cpuMs = ((u) => (u.user + u.system) / 1000)(process.cpuUsage(cpu0));
          const accepted = (await readdir(entries)).length - before;
          if (accepted !== messages) throw new Error(`mailbridge spooled ${accepted} of ${messages} messages`);
          const pfMs = await smtpSource(postfix.port, load);
          const sinkMs = await smtpSource(sink.port, load);
          const [mb, pf, ceiling] = [mbMs, pfMs, sinkMs].map((ms) => (messages * 1000) / ms) as [
            number,
            number,
            number,
          ];
          const label = `${sessions} sessions, ${reuse ? 'connection reused (-d)' : 'one connection per message'}`;
          rows.push({
            label,
            values: {
              messages,
              mb,
              cpu: (cpuMs / mbMs) * 100,
              pf,
              sink: ceiling,
              ratio: mb / pf,
              ofSink: mb / ceiling,
            },
          });
          log(`${label}: mailbridge ${mb.toFixed(0)}, postfix ${pf.toFixed(0)}, smtp-sink ${ceiling.toFixed(0)} msg/s`);
        }
      }
      const best = (key: string): number => Math.max(...rows.map((r) => r.values[key]!));
      const cpuAtBest = rows.find((r) => r.values.mb === best('mb'))!.values.cpu!;
      rows.push({
        label: acceptBestRow,
        values: {
          mb: best('mb'),
          cpu: cpuAtBest,
          pf: best('pf'),
          sink: best('sink'),
          ratio: best('mb') / best('pf'),
          ofSink: best('mb') / best('sink'),
        },
      });
      const table: ResultTable = {
        id: 'accept',
        rowHeader: 'load (smtp-source)',
        columns: [
          { key: 'messages', label: 'messages', digits: 0 },
          { key: 'mb', label: 'mailbridge msg/s', digits: 0 },
          { key: 'cpu', label: 'mailbridge CPU % of a core', digits: 0 },
          { key: 'pf', label: 'Postfix msg/s', digits: 0 },
          { key: 'sink', label: 'smtp-sink msg/s', digits: 0 },
          { key: 'ratio', label: 'mailbridge / Postfix', digits: 2 },
          { key: 'ofSink', label: 'mailbridge / smtp-sink', digits: 2 },
        ],
        rows,
      };
      return [table];
    } finally {
      for (const cleanup of cleanups)
        await cleanup().catch((err: unknown) => process.stderr.write(`bench cleanup: ${String(err)}\n`));
    }
  },
};
