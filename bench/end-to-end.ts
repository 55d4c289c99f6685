// `npm run bench -- e2e`: SMTP -> PMTP -> SMTP through two real gateway processes. smtp-source
// sends to gateway A's relay-in; A converts and notices gateway B over PMTP; B pulls, verifies and
// delivers by SMTP to smtp-sink (b.example is Postfix-hosted there). First the peak rate (messages
// at the sink / time), then a paced sender at half that rate for p50/p99 latency from the start
// of the SMTP send to the file smtp-sink writes, and the PMTP requests A and B made per message.
// Per message at the peak: CPU of A, B and a private redis-server, BullMQ jobs, Redis commands,
// fsyncs and PMTP requests, beside the same load through a two-hop Postfix chain (Postfix A relays
// to Postfix B, which delivers into a Maildir) measured in the same run.

import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { stringify } from 'yaml';
import { generateDomainKey } from '../src/native/protocol/domain-keys.js';
import { smtpSource } from './accept-side.js';
import { freePort, startSmtpSink } from './bench-support.js';
import { type Benchmark, percentile, type ResultTable, type Row } from './benchmark.js';
import { type GatewayChild, startGatewayChild } from './gateway-child.js';
import { startPrivatePostfix } from './private-postfix.js';
import { type PrivateRedis, startPrivateRedis } from './private-redis.js';
import { cpuSeconds } from './process-cpu.js';
import { e2eMailbridgeRow, e2ePacedRow, e2ePeakRow, e2ePostfixChainRow, e2eRatioRow } from './row-labels.js';

const from = 'alice@a.example';
const to = 'bob@b.example';
const sessions = 20;

export const benchmark: Benchmark = {
  summary:
    'smtp-source -> gateway A -> PMTP -> gateway B -> smtp-sink: peak msg/s, p50/p99 at half load; per message CPU, jobs, Redis commands, fsyncs, PMTP requests vs a two-hop Postfix chain',
  async run({ messages = 300, log, childNodeArgs }) {
    const run = randomBytes(4).toString('hex');
    const dir = await mkdtemp(path.join(tmpdir(), 'mailbridge-bench-e2e-'));
    const prefixes: [string, string] = [`{mbbench-${run}a}`, `{mbbench-${run}b}`];
    const stops: (() => Promise<void>)[] = [];
    // a private Redis: its commands and CPU are the gateways' alone (env.REDIS_URL is not used here)
    const redis = await startPrivateRedis();
    const redisUrl = redis.url;
    stops.push(() => redis.stop());
    try {
      const sinkDir = path.join(dir, 'sink');
      await mkdir(sinkDir);
      // smtp-sink writes as nobody
      await chmod(dir, 0o755);
      await chmod(sinkDir, 0o777);
      const sink = await startSmtpSink(200, sinkDir);
      stops.push(() => sink.stop());
      const [a, b] = await startGateways(
        dir,
        { redisUrl, prefixes, sinkPort: sink.port, nodeArgs: childNodeArgs },
        stops,
      );
      const relayPort = a.ports.get('smtp relay-in')!;
      const arrivals = new Arrivals(sinkDir);

      // warm-up: JIT, key sets, server info, connection pools
      await smtpSource(relayPort, { sessions: 5, messages: 20, reuse: false, from, to, length: 3000 });
      await arrivals.wait(20);

      // let the warm-up's acks and timers finish before counting
      await new Promise((r) => setTimeout(r, settleMs));
      const before = await countAll(a, b, redis, prefixes);
      const t0 = Date.now();
      const sendMs = await smtpSource(relayPort, { sessions, messages, reuse: false, from, to, length: 3000 });
      log(`gateway A accepted ${messages} in ${(sendMs / 1000).toFixed(1)} s`);
      const peakArrivals = await arrivals.wait(20 + messages);
      const peakSeconds = (Math.max(...peakArrivals.map((f) => f.at)) - t0) / 1000;
      const peak = messages / peakSeconds;
      // acks and outcome reports follow the delivery: they are part of each message's cost
      await new Promise((r) => setTimeout(r, settleMs));
      const after = await countAll(a, b, redis, prefixes);
      const perMessage = (key: Exclude<keyof Counts, 'byCommand'>): number => (after[key] - before[key]) / messages;
      const trips = perMessage('trips');
      const mbCpu = {
        a: perMessage('cpuA') * 1000,
        b: perMessage('cpuB') * 1000,
        redis: perMessage('cpuRedis') * 1000,
      };
      const mbCpuTotal = mbCpu.a + mbCpu.b + mbCpu.redis;
      log(
        `peak ${peak.toFixed(1)} msg/s; per message: ${mbCpuTotal.toFixed(1)} ms CPU (A ${mbCpu.a.toFixed(1)}, B ${mbCpu.b.toFixed(1)}, Redis ${mbCpu.redis.toFixed(1)}), ` +
          `${perMessage('jobs').toFixed(2)} jobs, ${perMessage('commands').toFixed(0)} Redis commands (${perMessage('scripts').toFixed(1)} scripts), ` +
          `${perMessage('fsyncs').toFixed(2)} fsyncs, ${trips.toFixed(2)} PMTP requests`,
      );
      log(`Redis commands per message: ${commandBreakdown(before.byCommand, after.byCommand, messages)}`);

      const rate = peak / 2;
      const paced = Math.min(messages, Math.max(20, Math.round(rate * 10)));
      const sent = await pacedSend(relayPort, rate, paced, run);
      const latencies = (await arrivals.wait(20 + messages + paced))
        .filter((f) => f.tag?.startsWith(`${run}.`))
        .map((f) => f.at - sent.get(f.tag!)!);
      if (latencies.length !== paced) throw new Error(`${latencies.length} of ${paced} paced messages arrived`);
      log(
        `paced at ${rate.toFixed(1)} msg/s: p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms`,
      );
      const chain = await postfixChain(messages, log);
      const perMessageTable: ResultTable = {
        id: 'e2e-per-message',
        rowHeader: 'at the peak, per message',
        columns: [
          { key: 'rate', label: 'delivered msg/s', digits: 1 },
          { key: 'cpu', label: 'CPU ms', digits: 2 },
          { key: 'cpuA', label: 'first hop ms', digits: 2 },
          { key: 'cpuB', label: 'second hop ms', digits: 2 },
          { key: 'cpuRedis', label: 'Redis ms', digits: 2 },
          { key: 'jobs', label: 'BullMQ jobs', digits: 2 },
          { key: 'commands', label: 'Redis commands', digits: 0 },
          { key: 'scripts', label: 'of them script calls', digits: 1 },
          { key: 'fsyncs', label: 'fsyncs', digits: 2 },
          { key: 'trips', label: 'PMTP requests', digits: 2 },
        ],
        rows: [
          {
            label: e2eMailbridgeRow,
            values: {
              rate: peak,
              cpu: mbCpuTotal,
              cpuA: mbCpu.a,
              cpuB: mbCpu.b,
              cpuRedis: mbCpu.redis,
              jobs: perMessage('jobs'),
              commands: perMessage('commands'),
              scripts: perMessage('scripts'),
              fsyncs: perMessage('fsyncs'),
              trips,
            },
          },
          {
            label: e2ePostfixChainRow,
            values: { rate: chain.rate, cpu: chain.cpuA + chain.cpuB, cpuA: chain.cpuA, cpuB: chain.cpuB },
          },
          {
            label: e2eRatioRow,
            values: { rate: peak / chain.rate, cpu: mbCpuTotal / (chain.cpuA + chain.cpuB) },
          },
        ],
      };
      const rows: Row[] = [
        { label: e2ePeakRow, values: { messages, accepted: (messages * 1000) / sendMs, rate: peak, trips } },
        {
          label: e2ePacedRow,
          values: { messages: paced, rate: sent.rate, p50: percentile(latencies, 50), p99: percentile(latencies, 99) },
        },
      ];
      return [
        {
          id: 'e2e',
          rowHeader: 'load',
          columns: [
            { key: 'messages', label: 'messages', digits: 0 },
            { key: 'accepted', label: 'accepted by A msg/s', digits: 1 },
            { key: 'rate', label: 'delivered msg/s', digits: 1 },
            { key: 'p50', label: 'p50 ms', digits: 0 },
            { key: 'p99', label: 'p99 ms', digits: 0 },
            { key: 'trips', label: 'PMTP requests/msg', digits: 2 },
          ],
          rows,
        },
        perMessageTable,
      ];
    } finally {
      for (const stop of stops.reverse())
        await stop().catch((err: unknown) => process.stderr.write(`bench cleanup: ${String(err)}\n`));
      await rm(dir, { recursive: true, force: true });
    }
  },
};

/** time for the work that follows a delivery (acks, reports) before counters are read */
const settleMs = 2000;

interface Counts {
  readonly cpuA: number;
  readonly cpuB: number;
  readonly cpuRedis: number;
  readonly jobs: number;
  readonly commands: number;
  readonly scripts: number;
  readonly fsyncs: number;
  readonly trips: number;
  readonly byCommand: ReadonlyMap<string, number>;
}

const queues = ['inbound', 'notice', 'pull', 'outbound'];

/** The commands run between two readings, per message, most frequent first (which feature costs most). */
function commandBreakdown(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
  messages: number,
): string {
  return [...after]
    .map(([name, n]) => [name, (n - (before.get(name) ?? 0)) / messages] as const)
    .filter(([, n]) => n >= 0.05)
    .sort((x, y) => y[1] - x[1])
    .map(([name, n]) => `${name} ${n.toFixed(2)}`)
    .join(', ');
}

async function countAll(
  a: GatewayChild,
  b: GatewayChild,
  redis: PrivateRedis,
  prefixes: [string, string],
): Promise<Counts> {
  const [ca, cb] = [await a.counters(), await b.counters()];
  const r = await redis.counters();
  return {
    cpuA: await cpuSeconds(a.pid),
    cpuB: await cpuSeconds(b.pid),
    cpuRedis: r.cpuSeconds,
    jobs: (await redis.jobs(prefixes[0], queues)) + (await redis.jobs(prefixes[1], queues)),
    commands: r.commands,
    scripts: r.scripts,
    fsyncs: ca.fsyncs + cb.fsyncs,
    trips: ca.roundTrips + cb.roundTrips,
    byCommand: r.byCommand,
  };
}

/**
 * The same peak load (20 sessions, 3,000-byte messages) through Postfix A, which relays b.example
 * to Postfix B, which delivers into a Maildir: the rate and CPU seconds per message of each hop.
 */
async function postfixChain(
  messages: number,
  log: (line: string) => void,
): Promise<{ rate: number; cpuA: number; cpuB: number }> {
  const second = await startPrivatePostfix({ port: await freePort(), domain: 'b.example', maxSessions: sessions });
  try {
    const first = await startPrivatePostfix({
      port: await freePort(),
      relay: { domain: 'b.example', port: second.port },
      maxSessions: sessions,
    });
    try {
      const arrived = async (count: number): Promise<number> => {
        let progress = Date.now();
        for (let seen = 0; ; ) {
          const now = await second.deliveredCount();
          if (now >= count) return Date.now();
          if (now > seen) [seen, progress] = [now, Date.now()];
          if (Date.now() - progress > 60_000) throw new Error(`Postfix B delivered ${now} of ${count} messages`);
          await new Promise((r) => setTimeout(r, 20));
        }
      };
      await smtpSource(first.port, { sessions: 5, messages: 20, reuse: false, from, to, length: 3000 });
      await arrived(20);
      const cpu0 = [await first.cpuSeconds(), await second.cpuSeconds()];
      const t0 = Date.now();
      await smtpSource(first.port, { sessions, messages, reuse: false, from, to, length: 3000 });
      const rate = (messages * 1000) / ((await arrived(20 + messages)) - t0);
      const cpuA = ((await first.cpuSeconds()) - cpu0[0]!) / messages;
      const cpuB = ((await second.cpuSeconds()) - cpu0[1]!) / messages;
      log(`Postfix chain: ${rate.toFixed(1)} msg/s, ${((cpuA + cpuB) * 1000).toFixed(2)} ms CPU per message`);
      return { rate, cpuA: cpuA * 1000, cpuB: cpuB * 1000 };
    } finally {
      await first.stop();
    }
  } finally {
    await second.stop();
  }
}

/** A (relay-in, PMTP a.example) and B (PMTP b.example, b.example hosted behind smtp-sink), each its own process. */
async function startGateways(
  dir: string,
  {
    redisUrl,
    prefixes,
    sinkPort,
    nodeArgs,
  }: { redisUrl: string; prefixes: [string, string]; sinkPort: number; nodeArgs: readonly string[] },
  stops: (() => Promise<void>)[],
): Promise<[GatewayChild, GatewayChild]> {
  const [pa, pb] = [await freePort(), await freePort()];
  await writeFile(path.join(dir, 'zone.txt'), '$ORIGIN a.example.\n@ TXT "v=spf1 ip4:127.0.0.0/8 -all"\n');
  const node = async (
    name: 'a' | 'b',
    port: number,
    peer: { domain: string; port: number },
    extra: Record<string, unknown>,
  ): Promise<GatewayChild> => {
    const domain = `${name}.example`;
    const keyFile = path.join(dir, `${domain}.pmtp.key`);
    await writeFile(keyFile, generateDomainKey().privatePem, { mode: 0o600 });
    const config = {
      hostname: `gw.${domain}`,
      log: { level: 'warn' },
      redis: { url: redisUrl, prefix: prefixes[name === 'a' ? 0 : 1] },
      spool: { dir: path.join(dir, `spool-${name}`) },
      dns: { zone_file: path.join(dir, 'zone.txt') },
      metrics: { enabled: false },
      // the peer is on loopback over plain http
      egress: { allow_hosts: ['127.0.0.1'] },
      // a transient failure retries in a second, not Postfix's five minutes (a short lifetime keeps
      // attemptsWithin, computed for every job added, to a few iterations)
      queues: { retry: { initial_delay_s: 1, max_delay_s: 60, lifetime_s: 3600 } },
      pmtp: {
        domain,
        key_file: keyFile,
        public_url: `http://127.0.0.1:${port}`,
        listen: { host: '127.0.0.1', port, plain_http: true },
        directory: { [peer.domain]: { endpoint: `http://127.0.0.1:${peer.port}` } },
        rate_limits: { peer_per_minute: 10_000_000, unauthenticated_per_minute: 10_000_000 },
      },
      ...extra,
    };
    const file = path.join(dir, `${name}.yaml`);
    await writeFile(file, stringify(config));
    const child = await startGatewayChild(file, { countTrips: true, nodeArgs });
    stops.push(() => child.stop());
    return child;
  };
  const b = await node(
    'b',
    pb,
    { domain: 'a.example', port: pa },
    {
      domains: { postfix: { 'b.example': { host: '127.0.0.1', port: sinkPort } }, first_contact: { default: 'allow' } },
    },
  );
  const a = await node(
    'a',
    pa,
    { domain: 'b.example', port: pb },
    {
      domains: { mailbox: ['a.example'] },
      smtp: {
        relay_clients: ['127.0.0.1'],
        listeners: [{ role: 'relay-in', host: '127.0.0.1', port: 0, max_clients: 1000, max_connections_per_ip: 1000 }],
      },
    },
  );
  return [a, b];
}

interface Arrival {
  readonly at: number;
  /** the X-Bench-Tag header of a paced message */
  readonly tag: string | undefined;
}

/** The files smtp-sink wrote, each read once: its mtime is when the message arrived. */
class Arrivals {
  private readonly seen = new Map<string, Arrival>();
  constructor(private readonly dir: string) {}

  /** Waits for `count` files in all; gives up when none arrived for `stallMs`. */
  async wait(count: number, stallMs = 60_000): Promise<Arrival[]> {
    let progress = Date.now();
    for (;;) {
      for (const name of await readdir(this.dir)) {
        if (this.seen.has(name)) continue;
        const file = path.join(this.dir, name);
        const [info, text] = [await stat(file), await readFile(file, 'latin1')];
        this.seen.set(name, { at: info.mtimeMs, tag: /^X-Bench-Tag: (\S+)/m.exec(text)?.[1] });
        progress = Date.now();
      }
      if (this.seen.size >= count) return [...this.seen.values()];
      if (Date.now() - progress > stallMs)
        throw new Error(`${this.seen.size} of ${count} messages reached smtp-sink; none for ${stallMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Starts one SMTP send (a connection each) every 1/rate s; returns each tag's start time and the rate achieved. */
async function pacedSend(
  port: number,
  rate: number,
  count: number,
  run: string,
): Promise<Map<string, number> & { rate: number }> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: true,
    name: 'client.a.example',
  });
  const started = new Map<string, number>();
  const body = `${'La de da de da. '.repeat(4)}\r\n`.repeat(45);
  const t0 = Date.now();
  const sends: Promise<unknown>[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const due = t0 + (i * 1000) / rate;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      const tag = `${run}.${i}`;
      const raw = `From: <${from}>\r\nTo: <${to}>\r\nSubject: paced ${i}\r\nMessage-ID: <${tag}@a.example>\r\nX-Bench-Tag: ${tag}\r\n\r\n${body}`;
      started.set(tag, Date.now());
      sends.push(transport.sendMail({ envelope: { from, to: [to] }, raw }));
    }
    await Promise.all(sends);
  } finally {
    transport.close();
  }
  const last = Math.max(...started.values());
  return Object.assign(started, { rate: count > 1 ? ((count - 1) * 1000) / Math.max(1, last - t0) : rate });
}
