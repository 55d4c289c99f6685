// `npm run bench -- e2e`: SMTP -> PMTP -> SMTP through two real gateway processes. smtp-source
// sends to gateway A's relay-in; A converts and notices gateway B over PMTP; B pulls, verifies and
// delivers by SMTP to smtp-sink (b.example is Postfix-hosted there). First the peak rate (messages
// at the sink / time), then a paced sender at half that rate for p50/p99 latency from the start
// of the SMTP send to the file smtp-sink writes, and the PMTP requests A and B made per message.

import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { stringify } from 'yaml';
import { generateDomainKey } from '../src/native/protocol/domain-keys.js';
import { smtpSource } from './accept-side.js';
import { deleteKeys, freePort, startSmtpSink } from './bench-support.js';
import { type Benchmark, percentile, type Row } from './benchmark.js';
import { type GatewayChild, startGatewayChild } from './gateway-child.js';
import { e2ePacedRow, e2ePeakRow } from './row-labels.js';

const from = 'alice@a.example';
const to = 'bob@b.example';
const sessions = 20;

export const benchmark: Benchmark = {
  summary:
    'smtp-source -> gateway A -> PMTP -> gateway B -> smtp-sink: peak msg/s, p50/p99 at half load, PMTP requests/msg',
  async run({ messages = 300, env, log, childNodeArgs }) {
    const run = randomBytes(4).toString('hex');
    const dir = await mkdtemp(path.join(tmpdir(), 'mailbridge-bench-e2e-'));
    const redisUrl = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    const prefixes: [string, string] = [`{mbbench-${run}a}`, `{mbbench-${run}b}`];
    const stops: (() => Promise<void>)[] = [];
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

      const trips0 = (await a.roundTrips()) + (await b.roundTrips());
      const t0 = Date.now();
      const sendMs = await smtpSource(relayPort, { sessions, messages, reuse: false, from, to, length: 3000 });
      log(`gateway A accepted ${messages} in ${(sendMs / 1000).toFixed(1)} s`);
      const peakArrivals = await arrivals.wait(20 + messages);
      const peakSeconds = (Math.max(...peakArrivals.map((f) => f.at)) - t0) / 1000;
      const peak = messages / peakSeconds;
      const trips = ((await a.roundTrips()) + (await b.roundTrips()) - trips0) / messages;
      log(`peak ${peak.toFixed(1)} msg/s, ${trips.toFixed(2)} PMTP requests per message`);

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
      ];
    } finally {
      for (const stop of stops.reverse())
        await stop().catch((err: unknown) => process.stderr.write(`bench cleanup: ${String(err)}\n`));
      for (const prefix of prefixes) await deleteKeys(redisUrl, prefix);
      await rm(dir, { recursive: true, force: true });
    }
  },
};

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
