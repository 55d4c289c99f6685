// `npm run bench -- smtp-out`: messages per second from the outbound queue to Postfix's smtp-sink,
// each DKIM-signed (RSA-2048) and routed by MX through a zone file, at worker concurrency 1, 10
// and 50; then the peak RSS of a child process sending one 50 MB message (target <= 150 MB).

import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { parseConfig } from '../src/config/load.js';
import { deleteKeys, startSmtpSink } from './bench-support.js';
import type { Benchmark, Row } from './benchmark.js';
import { outboundPipeline } from './outbound-pipeline.js';
import { largeMessageRow } from './row-labels.js';

const concurrencies = [1, 10, 50] as const;
const largeBytes = 50 * 1024 * 1024;
const from = 'news@org.bench';
const rcpt = 'user@sink.bench';

export const benchmark: Benchmark = {
  summary: 'queue -> smtp-sink with DKIM signing (outbound worker), and peak RSS for a 50 MB message',
  async run({ messages = 500, env, log }) {
    const dir = await mkdtemp(path.join(tmpdir(), 'mailbridge-bench-out-'));
    const prefix = `{mbbench-${randomBytes(4).toString('hex')}}`;
    const redisUrl = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    const sink = await startSmtpSink(Math.max(...concurrencies) * 2).catch(async (err: unknown) => {
      await rm(dir, { recursive: true, force: true });
      throw err;
    });
    try {
      const yamlFor = await fixtures(dir, redisUrl, prefix, sink.port);
      await throughput(yamlFor(10), Math.min(200, messages)); // warm-up: JIT, key import, pools
      const rows: Row[] = [];
      for (const concurrency of concurrencies) {
        const ms = await throughput(yamlFor(concurrency), messages);
        rows.push({
          label: `worker concurrency ${concurrency}`,
          values: { messages, seconds: ms / 1000, rate: (messages * 1000) / ms },
        });
        log(`concurrency ${concurrency}: ${((messages * 1000) / ms).toFixed(0)} msg/s`);
      }
      const large = await largeMessage(yamlFor(1));
      const mb = (n: number): number => n / 1024 / 1024;
      log(`50 MB message: peak RSS ${mb(large.maxRss).toFixed(1)} MB`);
      return [
        {
          id: 'delivery',
          rowHeader: '3 kB messages',
          columns: [
            { key: 'messages', label: 'messages', digits: 0 },
            { key: 'seconds', label: 'seconds', digits: 2 },
            { key: 'rate', label: 'msg/s', digits: 0 },
          ],
          rows,
        },
        {
          id: 'large',
          rowHeader: 'message',
          columns: [
            { key: 'seconds', label: 'seconds', digits: 2 },
            { key: 'rssBefore', label: 'RSS before MB', digits: 1 },
            { key: 'peakRss', label: 'peak RSS MB', digits: 1 },
            { key: 'target', label: 'target MB', digits: 0 },
          ],
          rows: [
            {
              label: largeMessageRow,
              values: {
                seconds: large.ms / 1000,
                rssBefore: mb(large.rssBefore),
                peakRss: mb(large.maxRss),
                target: 150,
              },
            },
          ],
        },
      ];
    } finally {
      await sink.stop();
      await deleteKeys(redisUrl, prefix);
      await rm(dir, { recursive: true, force: true });
    }
  },
};

/** Key, zone (MX for the sink's domain) and a config per concurrency, as YAML for parent and child. */
async function fixtures(
  dir: string,
  redisUrl: string,
  prefix: string,
  sinkPort: number,
): Promise<(concurrency: number) => string> {
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
  const body = Array.from(
    { length: 36 },
    (_, i) => `Line ${i}: the quick brown fox jumps over the lazy dog, 0123456789 abcdefghij.`,
  );
  return [
    `From: News <${from}>`,
    `To: <${rcpt}>`,
    'Subject: benchmark',
    'Message-ID: <bench@org.bench>',
    'Date: Tue, 24 Nov 2026 00:00:00 +0000',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    ...body,
    '',
  ].join('\r\n');
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
  yield Buffer.from(
    `From: <${from}>\r\nTo: <${rcpt}>\r\nSubject: large\r\nMIME-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n`,
  );
  const line = Buffer.from(`${'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0'}\r\n`);
  const block = Buffer.concat(Array.from({ length: 1024 }, () => line));
  for (let sent = 0; sent < largeBytes; sent += block.length) yield block;
}
