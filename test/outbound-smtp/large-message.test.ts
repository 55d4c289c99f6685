// A 50 MB message through the real worker, DKIM-signed, to smtp-sink, measured in a child
// process. Streaming costs ~35 MB over the baseline (GC slack); one whole copy in memory costs
// ~55-65 MB more, so "grew by less than the message" tells the two apart.
import { execFile } from 'node:child_process';
import { symlink } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { makeDkimKey } from '../support/dkim-key.js';
import { deleteKeys, redisUrl, testPrefix } from '../support/redis.js';
import { type Sink, startSink } from '../support/smtp-sink.js';
import { tempDir } from '../support/tmp.js';

const run = promisify(execFile);
const root = path.join(import.meta.dirname, '../..');
const messageBytes = 50 * 1024 * 1024;

describe('a 50 MB message', () => {
  const prefix = testPrefix();
  let dir: string;
  let remove: () => Promise<void>;
  let sink: Sink;

  beforeAll(async () => {
    ({ dir, remove } = await tempDir('large'));
    // the child runs plain JS: compile the sources it needs, and let them find our node_modules
    await run(process.execPath, [
      path.join(root, 'node_modules/typescript/bin/tsc'),
      ...[
        '--outDir',
        path.join(dir, 'dist'),
        '--rootDir',
        path.join(root, 'src'),
        '--module',
        'nodenext',
        '--moduleResolution',
        'nodenext',
      ],
      ...['--target', 'es2022', '--skipLibCheck', '--types', 'node', '--noCheck'],
      ...[
        'config/load.ts',
        'queue/accept.ts',
        'queue/redis-connection.ts',
        'outbound-smtp/outbound-worker.ts',
        'mail/domain-signers.ts',
      ].map((f) => path.join(root, 'src', f)),
    ]);
    await symlink(path.join(root, 'node_modules'), path.join(dir, 'node_modules'));
    sink = await startSink();
  }, 60_000);
  afterAll(async () => {
    await sink?.stop();
    await deleteKeys(prefix);
    await remove?.();
  });

  it('is delivered whole with bounded memory', async () => {
    const key = await makeDkimKey(dir, 'example.org', 'mb1');
    const config = {
      redis: { url: redisUrl, prefix },
      log: { level: 'silent' },
      spool: { dir: path.join(dir, 'spool') },
      hostname: 'gw.example.org',
      outbound: { port_map: { 'mx.big.example': sink.port } },
      dkim: { domain: 'example.org', selector: 'mb1', key_file: key.keyFile, cache_threshold_bytes: 1024 * 1024 },
    };
    const started = Date.now();
    const { stdout } = await run(
      process.execPath,
      [
        path.join(import.meta.dirname, 'large-message-child.mjs'),
        path.join(dir, 'dist'),
        stringify(config),
        String(messageBytes),
        'mx.big.example',
      ],
      {
        cwd: dir,
        maxBuffer: 1024 * 1024,
      },
    );
    const report = JSON.parse(stdout.trim().split('\n').pop()!) as {
      spooled: number;
      state: string;
      recipient: { state: string };
      rssBefore: number;
      maxRss: number;
    };
    const mb = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MB`;
    console.log(
      `50 MB message: spooled ${mb(report.spooled)}, peak RSS ${mb(report.maxRss)} (RSS before the job ${mb(report.rssBefore)}), ${Date.now() - started} ms`,
    );
    expect(report.state).toBe('completed');
    expect(report.recipient.state).toBe('delivered');
    expect(report.spooled).toBeGreaterThanOrEqual(messageBytes);
    const [dump] = await sink.messages();
    expect(dump).toContain('DKIM-Signature: v=1; a=rsa-sha256');
    // the sink stores LF line ends: the CRLF message shrinks by one byte per line
    expect(dump!.length).toBeGreaterThan(messageBytes * (77 / 78));
    // the target, and the honest check: the job never held a whole copy of the message
    expect(report.maxRss).toBeLessThan(150 * 1024 * 1024);
    expect(report.maxRss - report.rssBefore).toBeLessThan(messageBytes);
  }, 60_000);
});
