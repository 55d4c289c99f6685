// 250 is a promise: with Redis stopped (a private redis-server, killed) or the spool unwritable
// the answer is 451 4.3.0 and nothing is left behind; once the fault is gone, 250 again.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, message, startHarness } from './harness.js';
import { RawSmtp } from './raw-smtp.js';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
  });
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

async function deliver(port: number): Promise<string> {
  const c = await RawSmtp.connect(port);
  await c.envelope('a@elsewhere.test', ['user@native.test']);
  await c.command('DATA');
  c.write(`${message('a@elsewhere.test', 'user@native.test')}.\r\n`);
  const answer = await c.reply();
  c.end();
  return answer;
}

describe('durable accept', () => {
  let redisPort: number;
  let redis: ChildProcess;
  let h: Harness;

  beforeAll(async () => {
    redisPort = await freePort();
    redis = await startRedis(redisPort);
    h = await startHarness({ listeners: [{ role: 'mx' }], redisUrl: `redis://127.0.0.1:${redisPort}` });
  });
  afterAll(async () => {
    if (redis.exitCode !== null) redis = await startRedis(redisPort); // let the queues close cleanly
    await h?.close();
    await stop(redis);
  });

  it('answers 451 4.3.0 while Redis is down, keeps no spool entry, and 250 once it is back', async () => {
    expect(await deliver(h.port('mx'))).toMatch(/^250 2\.0\.0 Ok: queued as /);
    const before = await h.entries();
    await stop(redis);
    for (let i = 0; i < 100 && h.connection.status === 'ready'; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await deliver(h.port('mx'))).toBe('451 4.3.0 Queue unavailable, try again later');
    expect(await h.entries()).toEqual(before);
    redis = await startRedis(redisPort);
    for (let i = 0; i < 200 && h.connection.status !== 'ready'; i++) await new Promise((r) => setTimeout(r, 25));
    expect(await deliver(h.port('mx'))).toMatch(/^250 2\.0\.0 Ok: queued as /);
  });

  it('answers 451 4.3.0 when the spool cannot take the entry, and leaves no temp file', async () => {
    const entries = path.join(h.config.spool.dir, 'entries');
    await rm(entries, { recursive: true });
    await writeFile(entries, 'not a folder'); // root ignores chmod, so break the folder itself
    try {
      expect(await deliver(h.port('mx'))).toBe('451 4.3.0 Spool unavailable, try again later');
      expect(await readdir(h.spool.tmpDir)).toEqual([]);
    } finally {
      await rm(entries);
      await mkdir(entries);
    }
    expect(await deliver(h.port('mx'))).toMatch(/^250 /);
  });
});
