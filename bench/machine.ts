// The machine a benchmark run measured, described at run time for the report: CPU, RAM, kernel,
// Node/Postfix/Redis versions, how busy it was, and a one-second probe of synchronous 4 KiB writes
// (append + fsync) in the temp folder the benchmarks' spools live in.

import { execFile } from 'node:child_process';
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';

const run = promisify(execFile);

export interface Machine {
  readonly date: string;
  readonly cpu: string;
  readonly cpuCount: number;
  readonly ramGiB: number;
  readonly kernel: string;
  readonly node: string;
  readonly postfix: string;
  readonly redis: string;
  readonly syncWritesPerS: number;
  readonly loadAverage: number;
}

export async function describeMachine(redisUrl: string): Promise<Machine> {
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cpuCount: cpus().length,
    ramGiB: totalmem() / 1024 ** 3,
    kernel: `Linux ${release()}`,
    node: process.version,
    postfix: await run('postconf', ['-dh', 'mail_version']).then(
      (r) => r.stdout.trim(),
      () => 'not found',
    ),
    redis: await redisVersion(redisUrl),
    syncWritesPerS: syncWriteRate(1000),
    loadAverage: loadavg()[0]!,
  };
}

async function redisVersion(url: string): Promise<string> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await redis.connect();
    return /^redis_version:(\S+)/m.exec(await redis.info('server'))?.[1] ?? 'unknown';
  } catch {
    return 'unreachable';
  } finally {
    redis.disconnect();
  }
}

/** Appends 4 KiB and fsyncs, as often as it can for `ms`; the count per second. */
function syncWriteRate(ms: number): number {
  const dir = mkdtempSync(path.join(tmpdir(), 'mailbridge-bench-disk-'));
  const fd = openSync(path.join(dir, 'probe'), 'w');
  const block = Buffer.alloc(4096, 0x61);
  try {
    const started = performance.now();
    let writes = 0;
    while (performance.now() - started < ms) {
      writeSync(fd, block);
      fsyncSync(fd);
      writes++;
    }
    return (writes * 1000) / (performance.now() - started);
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

export function describeMachineLines(m: Machine): string[] {
  return [
    `- CPU: ${m.cpuCount} × ${m.cpu}`,
    `- RAM: ${m.ramGiB.toFixed(1)} GiB; ${m.kernel}`,
    `- Node ${m.node}, Postfix ${m.postfix}, Redis ${m.redis}`,
    `- disk: ${m.syncWritesPerS.toFixed(0)} synchronous 4 KiB writes per second (append + fsync, temp folder)`,
    `- load average when the run began: ${m.loadAverage.toFixed(2)}`,
  ];
}
