// Faults under load (issue 7, issue 12): CHAOS_MESSAGES messages (1,000 by default, 10,000 with
// `npm run test:chaos`) go through a staging network over three paths, on the default (Postfix)
// retry schedule so a fault of ours that left mail waiting for a 5-minute retry would show: the
// gateway process is killed with -9 during each stage, and Redis is killed and restarted from its
// AOF three times, once while notices are handed to the peer and once while it pulls. Every message
// that got a 250 must land in its Maildir within a minute of the last fault, no spool entry may be
// left without a live job, and duplicates are counted. CHAOS_RETRY=SECONDS runs the shortened
// schedule (`staging --retry`) and adds an outage of the legacy site, a remote fault that on the
// default schedule rightly waits five minutes. CHAOS_SEED replays the fault schedule (the moments
// and their order; timing still varies); CHAOS_KEEP=1 keeps the folder (logs, client log, Redis
// AOF) for a post-mortem.
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { QueueName } from '../../src/config/schema.js';
import { delayWarningJobId, expiryJobId } from '../../src/mail/jobs.js';
import { Spool } from '../../src/spool/spool.js';
import { type LegacyMailstore, startLegacyMailstore } from '../../src/staging/legacy-mailstore.js';
import { kill9 } from '../support/gateway-process.js';
import { type StagingProcess, startStagingProcess } from '../support/staging-process.js';
import { tempDir } from '../support/tmp.js';
import { AofRedis } from './aof-redis.js';
import { ChaosClient, type ChaosMessage, type PathName } from './chaos-client.js';

const total = Number(process.env.CHAOS_MESSAGES ?? 1000);
const seed = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
/** seconds of `staging --retry`; unset: the default retry schedule */
const retrySeconds = process.env.CHAOS_RETRY ? Number(process.env.CHAOS_RETRY) : undefined;
const paths: readonly PathName[] = ['smtp-native', 'pmtp', 'smtp-legacy'];
const queueNames: readonly QueueName[] = ['inbound', 'notice', 'pull', 'outbound'];

const counted = [
  'sent',
  'accepted',
  'resent',
  'rejected',
  'delivered',
  'lost',
  'dupRaw',
  'dupAfter',
  'dupFromResends',
] as const;
type Row = { path: string } & Record<(typeof counted)[number], number>;

/** mid-dispatch, mid-notice, mid-pull and mid-delivery wait for an active job of that stage */
type KillMoment = 'mid-data' | 'after-250' | 'mid-dispatch' | 'mid-notice' | 'mid-pull' | 'mid-delivery';
type RedisMoment = 'any' | 'mid-notice' | 'mid-pull';
type Fault =
  | { kind: 'kill'; moment: KillMoment }
  | { kind: 'redis-down'; moment: RedisMoment; ms: number }
  | { kind: 'legacy-down'; ms: number };

/** the queue whose active job marks a moment */
const stageQueue = {
  'mid-dispatch': 'alpha.test/inbound',
  'mid-notice': 'alpha.test/notice',
  'mid-pull': 'beta.test/pull',
  'mid-delivery': 'alpha.test/outbound',
} as const;

/** mulberry32: a small seeded generator, so a failing schedule can be run again */
function seeded(state: number): () => number {
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** A kill in each stage, three Redis restarts (and a legacy outage with --retry) at progress points between 5 % and 85 %. */
function faultSchedule(random: () => number): { at: number; fault: Fault }[] {
  const kills: KillMoment[] = ['mid-data', 'after-250', 'mid-dispatch', 'mid-notice', 'mid-pull', 'mid-delivery'];
  const faults: Fault[] = kills.map((moment) => ({ kind: 'kill', moment }));
  for (const moment of ['any', 'mid-notice', 'mid-pull'] as const)
    faults.push({ kind: 'redis-down', moment, ms: 500 + Math.floor(random() * 1000) });
  if (retrySeconds !== undefined) faults.push({ kind: 'legacy-down', ms: 2000 + Math.floor(random() * 3000) });
  for (let i = faults.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [faults[i], faults[j]] = [faults[j]!, faults[i]!];
  }
  const points = faults.map(() => 0.05 + random() * 0.8).sort((a, b) => a - b);
  return faults.map((fault, i) => ({ at: points[i]!, fault }));
}

/** Spool entries of a domain with no live job in any of its queues, as `mailbridge start`'s recovery would find them. */
async function orphanedEntries(dir: string, domain: string, queues: ReadonlyMap<string, Queue>): Promise<string[]> {
  const spool = new Spool(path.join(dir, domain, 'spool'));
  const orphans: string[] = [];
  for (const queueId of await spool.list()) {
    const entry = await spool.read(queueId).catch(() => undefined);
    if (!entry) continue; // removed since the listing
    const owner = entry.meta.kind === 'pmtp-received' ? [entry.meta.jobId] : [];
    let live = false;
    for (const name of queueNames) {
      for (const id of [queueId, expiryJobId(queueId), ...owner]) {
        const state = await (await queues.get(`${domain}/${name}`)!.getJob(id))?.getState();
        if (state !== undefined && state !== 'completed' && state !== 'failed' && state !== 'unknown') live = true;
      }
    }
    if (!live) orphans.push(`${domain} ${queueId} (${entry.meta.kind})`);
  }
  return orphans;
}

/** Message-ID of every file in every mailbox of a domain, one entry per file. */
async function deliveredIds(dir: string, domain: string): Promise<string[]> {
  const root = path.join(dir, domain, 'Maildir');
  const ids: string[] = [];
  for (const user of await readdir(root).catch(() => [])) {
    for (const sub of ['new', 'cur']) {
      const folder = path.join(root, user, sub);
      for (const file of await readdir(folder).catch(() => [])) {
        const text = await readFile(path.join(folder, file), 'latin1');
        ids.push(/^Message-ID: (\S+)\r?$/im.exec(text)?.[1] ?? `(none: ${file})`);
      }
    }
  }
  return ids;
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return false;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe(`chaos: ${total} messages, a gateway kill in each stage, three Redis restarts${retrySeconds ? ', a legacy outage' : ''}`, () => {
  let dir: string;
  let remove: () => Promise<void>;
  let redis: AofRedis;
  let staging: StagingProcess;
  let store: LegacyMailstore;
  const unexpectedExits: string[] = [];
  const queues = new Map<string, Queue>();
  let args: string[];

  const watchExit = (s: StagingProcess): void => {
    s.child.once('exit', (code, signal) => {
      if (signal !== 'SIGKILL' && signal !== 'SIGTERM')
        unexpectedExits.push(`staging exited (${code ?? signal}): ${s.stderrTail()}`);
    });
  };

  // staging plans the legacy site's port (--external-legacy); this process runs it, so it can stop it
  const startLegacySite = () =>
    startLegacyMailstore({
      domain: 'legacy.test',
      root: dir,
      host: '127.0.0.1',
      port: Number(staging.ready.legacy['legacy.test']!.smtp.split(':')[1]),
    });

  beforeAll(async () => {
    ({ dir, remove } = await tempDir('chaos'));
    const redisDir = path.join(dir, 'redis');
    await mkdir(redisDir);
    redis = await AofRedis.start(redisDir);
    args = [
      '--domains',
      'alpha.test,beta.test',
      '--legacy',
      'legacy.test',
      '--dir',
      dir,
      '--redis',
      redis.url,
      ...(retrySeconds === undefined ? [] : ['--retry', String(retrySeconds)]),
      '--external-legacy',
    ];
    staging = await startStagingProcess(args);
    watchExit(staging);
    store = await startLegacySite();
    for (const domain of ['alpha.test', 'beta.test']) {
      const { redis: settings } = parse(await readFile(path.join(dir, domain, 'mailbridge.yaml'), 'utf8')) as {
        redis: { prefix: string };
      };
      for (const name of queueNames) {
        const queue = new Queue(name, { connection: { url: redis.url }, prefix: settings.prefix });
        queue.on('error', () => undefined); // Redis goes away on purpose
        queues.set(`${domain}/${name}`, queue);
      }
    }
  });
  afterAll(async () => {
    await Promise.all([...queues.values()].map((q) => q.close().catch(() => undefined)));
    if (staging) await kill9(staging.child);
    await store?.close();
    await redis?.kill9();
    if (process.env.CHAOS_KEEP) console.log(`chaos: kept ${dir} (CHAOS_KEEP)`);
    else await remove();
  });

  it(
    'loses nothing that got a 250; after receiving-side dedupe no message is there twice',
    async () => {
      const started = Date.now();
      console.log(`chaos seed ${seed}: CHAOS_SEED=${seed} CHAOS_MESSAGES=${total} replays this fault schedule`);
      const run = seed.toString(36);
      const alpha = staging.ready.domains['alpha.test']!;
      const port = (address: string) => Number(address.split(':')[1]);
      const messages: ChaosMessage[] = Array.from({ length: total }, (_, n) => {
        const p = paths[n % paths.length]!;
        const user = `u${Math.floor(n / paths.length) % 4}`;
        const messageId = `<chaos-${n}.${run}@client.test>`;
        if (p === 'smtp-native') return { n, path: p, messageId, from: 'sender@legacy.test', to: `${user}@alpha.test` };
        return {
          n,
          path: p,
          messageId,
          from: 'postmaster@alpha.test',
          to: `${user}@${p === 'pmtp' ? 'beta.test' : 'legacy.test'}`,
        };
      });
      const auth = { user: alpha.user, password: alpha.password };
      const client = new ChaosClient(
        messages,
        {
          'smtp-native': { port: port(alpha.mx) },
          pmtp: { port: port(alpha.submission), auth },
          'smtp-legacy': { port: port(alpha.submission), auth },
        },
        path.join(dir, 'client.log'),
      );

      const active = (key: string) => async () =>
        (await queues
          .get(key)!
          .getActiveCount()
          .catch(() => 0)) > 0;
      const restart = async (): Promise<number> => {
        const t = Date.now();
        staging = await startStagingProcess(args);
        watchExit(staging);
        return Date.now() - t;
      };
      let storeCounts = { stored: 0, duplicates: 0 };
      const done: string[] = [];
      const record = (line: string): void => {
        done.push(line);
        console.log(`chaos +${((Date.now() - started) / 1000).toFixed(1)} s: ${line}`);
      };

      const schedule = faultSchedule(seeded(seed));
      let lastFaultAt = started;
      /** outbound deliveries a kill cut: one the legacy site had taken before its 250 was read is sent again (SMTP's own duplicate) */
      let cutDeliveries = 0;
      const director = async (): Promise<void> => {
        for (const { at, fault } of schedule) {
          // release messages a little past the point, so traffic is flowing when the fault hits
          client.limit = Math.ceil((at + 0.05) * total);
          await until(() => client.accepted.size >= at * total, 600_000);
          const acceptedThen = client.accepted.size;
          if (fault.kind === 'kill') {
            const victim = staging.child;
            let observed: boolean;
            if (fault.moment === 'mid-data' || fault.moment === 'after-250') {
              observed = await Promise.race([
                new Promise<boolean>((resolve) => {
                  if (fault.moment === 'mid-data') {
                    client.midData = async () => {
                      await kill9(victim);
                      resolve(true);
                    };
                  } else {
                    client.onAccepted = () => {
                      victim.kill('SIGKILL');
                      resolve(true);
                    };
                  }
                }),
                pause(10_000).then(() => false),
              ]);
              client.midData = client.onAccepted = undefined;
            } else {
              observed = await until(active(stageQueue[fault.moment]), 10_000, 5);
            }
            await kill9(victim);
            // a dead process's jobs stay active until taken over: these were cut mid-flight
            cutDeliveries += await queues
              .get('alpha.test/outbound')!
              .getActiveCount()
              .catch(() => 0);
            const ms = await restart();
            record(
              `kill -9 ${fault.moment}${observed ? '' : ' (state not seen in 10 s; killed anyway)'} at ${acceptedThen} accepted; ready again in ${ms} ms`,
            );
          } else if (fault.kind === 'redis-down') {
            const observed = fault.moment === 'any' || (await until(active(stageQueue[fault.moment]), 10_000, 5));
            await redis.kill9();
            await pause(fault.ms);
            await redis.restart();
            record(
              `Redis kill -9 ${fault.moment}${observed ? '' : ' (state not seen in 10 s; killed anyway)'}, down ${fault.ms} ms, restarted from its AOF at ${acceptedThen} accepted`,
            );
          } else {
            await store.close();
            const before = store.counts();
            storeCounts = {
              stored: storeCounts.stored + before.stored,
              duplicates: storeCounts.duplicates + before.duplicates,
            };
            await pause(fault.ms);
            store = await startLegacySite();
            record(`legacy site down for ${fault.ms} ms at ${acceptedThen} accepted`);
          }
          lastFaultAt = Date.now();
        }
        client.limit = Number.POSITIVE_INFINITY;
      };
      await Promise.all([client.run(3), director()]);
      const sentMs = Date.now() - started;

      // every accepted message delivered and every queue empty, or give up and count what is there
      const accepted = [...client.accepted.keys()].map((n) => messages[n]!);
      const boxes = { 'smtp-native': 'alpha.test', pmtp: 'beta.test', 'smtp-legacy': 'legacy.test' } as const;
      const landed = async () =>
        Object.fromEntries(
          await Promise.all(paths.map(async (p) => [p, await deliveredIds(dir, boxes[p])] as const)),
        ) as Record<PathName, string[]>;
      let ids = await landed();
      /**
       * jobs still to run; a stored PMTP copy's timers (its expiry, days ahead, and its delay warning,
       * hours ahead, which ends at once when the copy is gone) are not work in flight
       */
      const timers = [expiryJobId(''), delayWarningJobId('')];
      const pendingJobs = async (): Promise<string[]> => {
        const pending: string[] = [];
        for (const [key, q] of queues) {
          for (const job of await q.getJobs(['active', 'wait', 'delayed', 'prioritized', 'waiting-children'])) {
            if (job?.id && !timers.some((prefix) => job.id!.startsWith(prefix))) pending.push(`${key} ${job.id}`);
          }
        }
        return pending;
      };
      let allLandedAt: number | undefined;
      const settled = await until(
        async () => {
          ids = await landed();
          const sets = Object.fromEntries(paths.map((p) => [p, new Set(ids[p])])) as Record<PathName, Set<string>>;
          if (!accepted.every((m) => sets[m.path].has(m.messageId))) return false;
          allLandedAt ??= Date.now();
          return (await pendingJobs()).length === 0;
        },
        120_000 + total * 20,
        500,
      );
      const stillPending = settled ? [] : await pendingJobs();
      const orphans = (
        await Promise.all(['alpha.test', 'beta.test'].map((d) => orphanedEntries(dir, d, queues)))
      ).flat();
      // messages released after the last fault still have to be sent: time from whichever came later
      const landedAfterMs =
        allLandedAt === undefined ? undefined : allLandedAt - Math.max(lastFaultAt, started + sentMs);
      const failedJobs: string[] = [];
      for (const [key, q] of queues) {
        for (const job of await q.getFailed()) failedJobs.push(`${key} ${job.id}: ${job.failedReason}`);
      }
      const final = store.counts();
      storeCounts = {
        stored: storeCounts.stored + final.stored,
        duplicates: storeCounts.duplicates + final.duplicates,
      };

      const rows = paths.map((p): Row => {
        const mine = messages.filter((m) => m.path === p);
        const got = mine.filter((m) => client.accepted.has(m.n));
        const files = ids[p];
        const unique = new Set(files);
        const extra = files.length - unique.size;
        const copies = new Map<string, number>();
        for (const id of files) copies.set(id, (copies.get(id) ?? 0) + 1);
        // a message the client had to resend is two messages to the gateway: a second copy is SMTP's, not ours
        const fromResends = mine
          .filter((m) => client.resent.has(m.n))
          .reduce((sum, m) => sum + Math.max(0, (copies.get(m.messageId) ?? 0) - 1), 0);
        return {
          path: p,
          sent: mine.length,
          accepted: got.length,
          resent: mine.filter((m) => client.resent.has(m.n)).length,
          rejected: mine.filter((m) => client.rejected.has(m.n)).length,
          delivered: got.filter((m) => unique.has(m.messageId)).length,
          lost: got.filter((m) => !unique.has(m.messageId)).length,
          dupRaw: extra + (p === 'smtp-legacy' ? storeCounts.duplicates : 0),
          dupAfter: extra,
          dupFromResends: fromResends,
        };
      });
      const totalRow: Row = {
        path: 'total',
        ...Object.fromEntries(counted.map((k) => [k, rows.reduce((s, r) => s + r[k], 0)])),
      } as Row;
      const head = [
        'path',
        'sent',
        'accepted',
        'resent',
        'rejected',
        'delivered',
        'lost',
        'dup raw',
        'dup after dedupe',
        'of which resends',
      ];
      const table = [
        head,
        ...[...rows, totalRow].map((r) =>
          [
            r.path,
            r.sent,
            r.accepted,
            r.resent,
            r.rejected,
            r.delivered,
            r.lost,
            r.dupRaw,
            r.dupAfter,
            r.dupFromResends,
          ].map(String),
        ),
      ];
      const widths = head.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
      const lines = table.map((row) =>
        row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '),
      );
      console.log(
        [
          `chaos seed ${seed}, ${total} messages, ${retrySeconds === undefined ? 'default retry schedule' : `--retry ${retrySeconds}`}: sent in ${(sentMs / 1000).toFixed(1)} s, settled in ${((Date.now() - started) / 1000).toFixed(1)} s; last fault at +${((lastFaultAt - started) / 1000).toFixed(1)} s, every accepted message landed ${landedAfterMs === undefined ? 'never' : `${(landedAfterMs / 1000).toFixed(1)} s`} after the last fault or the last message sent, whichever was later`,
          ...done.map((d) => `  ${d}`),
          ...lines,
          `legacy store: ${storeCounts.stored} stored, ${storeCounts.duplicates} copies dropped as duplicates by Message-ID; ${cutDeliveries} outbound deliveries were cut by a kill`,
          `failed jobs: ${failedJobs.length}${failedJobs.length ? `\n  ${failedJobs.slice(0, 10).join('\n  ')}` : ''}`,
          `jobs still pending at the end: ${stillPending.length}${stillPending.length ? `\n  ${stillPending.slice(0, 10).join('\n  ')}` : ''}`,
          `spool entries without a live job: ${orphans.length}${orphans.length ? `\n  ${orphans.slice(0, 10).join('\n  ')}` : ''}`,
          `client log: ${path.join(dir, 'client.log')}`,
        ].join('\n'),
      );

      expect(unexpectedExits).toEqual([]);
      expect(done.filter((d) => d.startsWith('kill -9'))).toHaveLength(6);
      expect(done).toHaveLength(schedule.length);
      // the mid-DATA kill alone cuts at least one client before its 250: resending must not count as lost
      expect(totalRow.resent).toBeGreaterThan(0);
      expect(totalRow.rejected).toBe(0);
      expect(totalRow.accepted).toBe(total);
      expect(rows.map((r) => [r.path, r.lost])).toEqual(paths.map((p) => [p, 0]));
      expect(rows.map((r) => [r.path, r.dupAfter - r.dupFromResends])).toEqual(paths.map((p) => [p, 0]));
      expect(rows.find((r) => r.path === 'smtp-legacy')!.dupAfter).toBe(0);
      expect(failedJobs).toEqual([]);
      expect(stillPending).toEqual([]);
      expect(orphans).toEqual([]);
      expect(landedAfterMs).toBeLessThanOrEqual(60_000);
      // before dedupe: at most 0.1 % beyond client resends and the deliveries a kill cut mid-transaction
      expect(totalRow.dupRaw - totalRow.dupFromResends).toBeLessThanOrEqual(Math.floor(total / 1000) + cutDeliveries);
    },
    600_000 + total * 600,
  );
});
