// A private redis-server on a free loopback port, no persistence, for a benchmark whose Redis
// commands and CPU are counted: the shared Redis also serves other work, which would count too.

import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from './bench-support.js';

export interface RedisCounters {
  /** commands executed, those that scripts ran included (INFO commandstats) */
  readonly commands: number;
  /** EVAL/EVALSHA/FCALL calls: the BullMQ and mailbridge scripts */
  readonly scripts: number;
  /** seconds of CPU redis-server used (INFO cpu) */
  readonly cpuSeconds: number;
  /** calls per command name, to see which feature costs most */
  readonly byCommand: ReadonlyMap<string, number>;
}

export interface PrivateRedis {
  readonly url: string;
  readonly pid: number;
  counters(): Promise<RedisCounters>;
  /** The jobs in every state of the named BullMQ queues under `prefix`, finished ones included. */
  jobs(prefix: string, queues: readonly string[]): Promise<number>;
  stop(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const url = `redis://127.0.0.1:${port}`;
  const client = await connectWhenUp(url, () => child.exitCode);
  const info = async (section: string): Promise<string> => client.info(section);
  return {
    url,
    pid: child.pid!,
    counters: async () => {
      const stats = [...(await info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)];
      const cpu = await info('cpu');
      const seconds = (name: string): number => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(cpu)?.[1] ?? 0);
      // the INFO calls themselves are not the gateways' work
      const calls = stats.filter(([, name]) => name !== 'info').map(([, name, n]) => [name!, Number(n)] as const);
      return {
        commands: calls.reduce((sum, [, n]) => sum + n, 0),
        scripts: calls.filter(([name]) => /^(eval|evalsha|fcall)(_ro)?$/.test(name)).reduce((sum, [, n]) => sum + n, 0),
        cpuSeconds: seconds('used_cpu_user') + seconds('used_cpu_sys'),
        byCommand: new Map(calls),
      };
    },
    jobs: async (prefix, queues) => {
      let total = 0;
      for (const queue of queues) {
        const key = (state: string): string => `${prefix}:${queue}:${state}`;
        const sizes = await Promise.all([
          ...['wait', 'active', 'paused'].map((s) => client.llen(key(s))),
          ...['completed', 'failed', 'delayed', 'prioritized', 'waiting-children'].map((s) => client.zcard(key(s))),
        ]);
        total += sizes.reduce((a, b) => a + b, 0);
      }
      return total;
    },
    stop: async () => {
      client.disconnect();
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A client once redis-server listens (it takes a moment to start); throws if it exited or never listened. */
async function connectWhenUp(url: string, exitCode: () => number | null): Promise<Redis> {
  for (let i = 0; ; i++) {
    if (exitCode() !== null) throw new Error(`redis-server exited with ${exitCode()}`);
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return client;
    } catch (err) {
      client.disconnect();
      if (i === 100) throw new Error(`redis-server did not listen at ${url}: ${String(err)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
