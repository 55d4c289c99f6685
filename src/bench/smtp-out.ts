// `npm run bench -- smtp-out`: messages per second from the outbound queue to Postfix's smtp-sink,
// each DKIM-signed (RSA-2048) and routed by MX through a zone file, at worker concurrency 1, 10
// and 50; then the peak RSS of a child process sending one 50 MB message (target <= 150 MB).

import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { parseConfig } from '../config/load.js';
import { formatTable, type Benchmark } from './benchmark.js';
import { deleteKeys, startSmtpSink } from './bench-support.js';
import { outboundPipeline } from './outbound-pipeline.js';

const concurrencies = [1, 10, 50] as const;
const largeBytes = 50 * 1024 * 1024;
const from = 'news@org.bench';
const rcpt = 'user@sink.bench';

export const benchmark: Benchmark = {
  summary: 'queue -> smtp-sink with DKIM signing (outbound worker), and peak RSS for a 50 MB message',
  async run(argv, { out, env }) {
    const at = argv.indexOf('--messages');
    const messages = at >= 0 ? Number(argv[at + 1]) : 1000;
    const dir = await mkdtemp(path.join(tmpdir(), 'mailbridge-bench-out-'));
    const prefix = `{mbbench-${randomBytes(4).toString('hex')}}`;
    const redisUrl = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    const sink = await startSmtpSink(Math.max(...concurrencies) * 2).catch(async (err: unknown) => {
      await rm(dir, { recursive: true, force: true });
      throw err;
    });
    try {
      const yamlFor = await fixtures(dir, redisUrl, prefix, sink.port);
      await throughput(yamlFor(10), 200); // warm-up: JIT, key import, pools
      const rows: string[][] = [];
      for (const concurrency of concurrencies) {
        const ms = await throughput(yamlFor(concurrency), messages);
        rows.push([String(concurrency), String(messages), (ms / 1000).toFixed(2), ((messages * 1000) / ms).toFixed(0)]);
      }
      // a shared machine skews the figures: say how busy it was
      out.write(`\n${formatTable(['concurrency', 'messages', 'seconds', 'msg/s'], rows)}\n(${cpus().length} CPUs, load average ${loadavg()[0]!.toFixed(1)})\n`);
      const large = await largeMessage(yamlFor(1));
      const mb = (n: number): string => (n / 1024 / 1024).toFixed(1);
      out.write(`\n${formatTable(['50 MB message', 'seconds', 'RSS before MB', 'peak RSS MB', 'target MB'], [['DKIM-signed, to smtp-sink', (large.ms / 1000).toFixed(2), mb(large.rssBefore), mb(large.maxRss), '150']])}\n`);
      if (large.maxRss > 150 * 1024 * 1024) out.write('peak RSS is above the 150 MB target\n');
    } finally {
      await sink.stop();
      await deleteKeys(redisUrl, prefix);
      await rm(dir, { recursive: true, force: true });
    }
  },
};

/** Key, zone (MX for the sink's domain) and a config per concurrency, as YAML for parent and child. */
async function fixtures(dir: string, redisUrl: string, prefix: string, sinkPort: number): Promise<(concurrency: number) => string> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await writeFile(path.join(dir, 'dkim.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  await writeFile(path.join(dir, 'zone.txt'), 'sink.bench. MX 10 mx.sink.bench.\nmx.sink.bench. A 127.0.0.1\n');
  return (concurrency) =>
    stringify({
      hostname: 'gw.org.bench',
      redis: { url: redisUrl, prefix },
      log: { level: 'warn' },
      spool: { dir: path.join(dir, 'spool') },
      dns: { zone_file: path.join(dir, 'zone.txt') },
      queues: { outbound: { concurrency } },
      // one destination: let its connection cap follow the worker concurrency
      outbound: { port_map: { 'mx.sink.bench': sinkPort }, destination_concurrency: concurrency },
      dkim: { domain: 'org.bench', selector: 'b1', key_file: path.join(dir, 'dkim.pem') },
    });
}

/** Enqueues `count` messages, then times the worker delivering all of them. */
async function throughput(yamlText: string, count: number): Promise<number> {
  const pipeline = await outboundPipeline(parseConfig(yamlText, '/virtual/bench.yaml'));
  try {
    const body = Buffer.from(sampleMessage());
    for (let i = 0; i < count; i++) await pipeline.enqueue([body], from, rcpt);
    return await pipeline.drain(count);
  } finally {
    await pipeline.close();
  }
}

/** A 3 kB newsletter-like message. */
function sampleMessage(): string {
  const body = Array.from({ length: 36 }, (_, i) => `Line ${i}: the quick brown fox jumps over the lazy dog, 0123456789 abcdefghij.`);
  return [`From: News <${from}>`, `To: <${rcpt}>`, 'Subject: benchmark', 'Message-ID: <bench@org.bench>', 'Date: Tue, 24 Nov 2026 00:00:00 +0000', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=us-ascii', '', ...body, ''].join('\r\n');
}

interface LargeReport {
  readonly state: string | undefined;
  readonly ms: number;
  readonly rssBefore: number;
  readonly maxRss: number;
}

/** Spools and queues the message here, then times and measures a child that only sends it. */
async function largeMessage(yamlText: string): Promise<LargeReport> {
  const pipeline = await outboundPipeline(parseConfig(yamlText, '/virtual/bench.yaml'));
  const queueId = await pipeline.enqueue(largeBody(), from, rcpt).finally(() => pipeline.close());
  const child = fileURLToPath(new URL('./smtp-out-large.js', import.meta.url));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [child, yamlText, queueId, rcpt], { timeout: 300_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`large-message child failed: ${stderr || err.message}`));
      const report = JSON.parse(stdout.trim().split('\n').pop()!) as LargeReport;
      if (report.state !== 'delivered') return reject(new Error(`large message ended ${String(report.state)}`));
      resolve(report);
    });
  });
}

/** A base64 attachment in 76-character lines, generated in 78 kB blocks. */
function* largeBody(): Generator<Buffer> {
  yield Buffer.from(`From: <${from}>\r\nTo: <${rcpt}>\r\nSubject: large\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n`);
  const line = Buffer.from(`${'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0'}\r\n`);
  const block = Buffer.concat(Array.from({ length: 1024 }, () => line));
  for (let sent = 0; sent < largeBytes; sent += block.length) yield block;
}
