// `npm run bench -- pmtp`: between two PMTP/1 servers on loopback, notices per
// second (the recipient decides, nothing is pulled yet), messages pulled per second (pull,
// verify, spool, deliver, ack), and HTTP round trips per message, unbatched and batched.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { roundTrips } from '../src/native/client/pmtp-client.js';
import { describePart, type Manifest } from '../src/native/protocol/message-format.js';
import { freePort } from './bench-support.js';
import type { Benchmark, Row } from './benchmark.js';
import { type BenchNode, startBenchNode } from './pmtp-nodes.js';
import { pmtpBatchedRow, pmtpUnbatchedRow } from './row-labels.js';

interface RunResult {
  readonly mode: string;
  readonly messages: number;
  readonly noticesPerS: number;
  readonly pullsPerS: number;
  readonly noticeTripsPerMsg: number;
  readonly allTripsPerMsg: number;
}

async function until(probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error('benchmark did not finish in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One pipelined round trip for all messages, so polling does not slow the servers it measures. */
async function countStates(
  node: BenchNode,
  sent: ReadonlyArray<{ id: string; recipient: string }>,
  states: readonly string[],
): Promise<number> {
  const pipeline = node.redis.pipeline();
  for (const { id, recipient } of sent) pipeline.hget(`${node.config.redis.prefix}:pmtp:status:${id}`, recipient);
  const answers = (await pipeline.exec()) ?? [];
  return answers.filter(
    ([, raw]) => typeof raw === 'string' && states.includes((JSON.parse(raw) as { state: string }).state),
  ).length;
}

async function runOnce(
  mode: 'unbatched' | 'batched',
  messages: number,
  redisUrl: string | undefined,
  dir: string,
): Promise<RunResult> {
  const prefix = `{mbbench-${randomBytes(4).toString('hex')}}`;
  const [pa, pb] = [await freePort(), await freePort()];
  const concurrency = mode === 'unbatched' ? 1 : 500;
  const common = { dir, ...(redisUrl ? { redisUrl } : {}), noticeConcurrency: concurrency };
  const a = await startBenchNode({
    ...common,
    domain: 'a.example',
    port: pa,
    peer: { domain: 'b.example', port: pb },
    prefix: `${prefix}a`,
  });
  const b = await startBenchNode({
    ...common,
    domain: 'b.example',
    port: pb,
    peer: { domain: 'a.example', port: pa },
    prefix: `${prefix}b`,
  });
  try {
    const ids: Array<{ id: string; recipient: string }> = [];
    const text = Buffer.from('Hello Bob,\r\nlunch at noon? — Alice\r\n');
    for (let i = 0; i < messages; i++) {
      const id = `bench${randomBytes(12).toString('base64url')}`;
      const manifest: Manifest = {
        v: 1,
        id,
        version: 1,
        from: 'alice@a.example',
        headers: [['Subject', `bench ${i}`]],
        parts: [describePart(text, { type: 'text/plain; charset=utf-8', role: 'body' })],
        created: Math.floor(Date.now() / 1000),
      };
      const recipient = `user${i % 50}@b.example`;
      await a.service.outbox.submit({ manifest, body: text, recipients: [recipient] });
      ids.push({ id, recipient });
    }
    // warm the key and server-info caches so they do not count as per-message trips
    await a.service.context.client.serverInfo('b.example');
    await a.service.context.directory.keySet('b.example');
    await b.service.context.directory.keySet('a.example');
    const trips0 = roundTrips.count;
    const t0 = performance.now();
    a.startWorkers();
    await until(async () => (await countStates(a, ids, ['accepted'])) === messages, 600_000);
    const t1 = performance.now();
    const noticeTrips = roundTrips.count - trips0;
    b.startWorkers();
    await until(
      async () => b.delivered >= messages && (await countStates(a, ids, ['delivered'])) === messages,
      600_000,
    );
    const t2 = performance.now();
    if (process.env.PMTP_BENCH_DEBUG) process.stderr.write(`${mode}: ${JSON.stringify([...roundTrips.byPath])}\n`);
    return {
      mode,
      messages,
      noticesPerS: messages / ((t1 - t0) / 1000),
      pullsPerS: messages / ((t2 - t1) / 1000),
      noticeTripsPerMsg: noticeTrips / messages,
      allTripsPerMsg: (roundTrips.count - trips0) / messages,
    };
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

export const benchmark: Benchmark = {
  summary: 'PMTP/1 between two loopback servers: notices/s, pulls/s, HTTP round trips per message',
  async run({ messages = 500, env, log }) {
    const dir = await mkdtemp(path.join(tmpdir(), 'mailbridge-bench-pmtp-'));
    try {
      const rows: Row[] = [];
      for (const mode of ['unbatched', 'batched'] as const) {
        const r = await runOnce(mode, messages, env.REDIS_URL, path.join(dir, mode));
        log(`${mode}: ${r.noticesPerS.toFixed(0)} notices/s, ${r.pullsPerS.toFixed(0)} pulls/s`);
        const label = mode === 'unbatched' ? pmtpUnbatchedRow : pmtpBatchedRow;
        rows.push({
          label,
          values: {
            messages: r.messages,
            notices: r.noticesPerS,
            pulls: r.pullsPerS,
            noticeTrips: r.noticeTripsPerMsg,
            allTrips: r.allTripsPerMsg,
          },
        });
      }
      return [
        {
          id: 'pmtp',
          rowHeader: 'mode',
          columns: [
            { key: 'messages', label: 'messages', digits: 0 },
            { key: 'notices', label: 'notices/s', digits: 0 },
            { key: 'pulls', label: 'pulls/s', digits: 0 },
            { key: 'noticeTrips', label: 'notice trips/msg', digits: 3 },
            { key: 'allTrips', label: 'all trips/msg (notice+pull+ack)', digits: 3 },
          ],
          rows,
        },
      ];
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
