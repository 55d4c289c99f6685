// Finds a Redis for staging: --redis alone, or REDIS_URL then 127.0.0.1:6379 and, if none answers,
// a private redis-server from PATH with AOF in DIR/redis (or says how to install one).

import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort, stagingHost } from './staging-plan.js';

export interface ProvisionedRedis {
  readonly url: string;
  /** stops the private server when staging started one */
  stop(): Promise<void>;
}

export async function provisionRedis(
  dir: string,
  candidates: readonly (string | undefined)[],
  mayStartPrivate: boolean,
): Promise<ProvisionedRedis> {
  for (const url of candidates) {
    if (url && (await answers(url))) return { url, stop: async () => undefined };
  }
  if (!mayStartPrivate) throw new Error(`${candidates.join(', ')} does not answer`);
  return startPrivateRedis(path.join(dir, 'redis'));
}

async function answers(url: string): Promise<boolean> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 1000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

async function startPrivateRedis(dir: string): Promise<ProvisionedRedis> {
  await mkdir(dir, { recursive: true });
  const port = await freePort();
  const child = spawn(
    'redis-server',
    [
      '--bind',
      stagingHost,
      '--port',
      String(port),
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--maxmemory-policy',
      'noeviction',
      '--save',
      '',
    ],
    {
      stdio: 'ignore',
    },
  );
  const spawned = await new Promise<boolean>((resolve) => {
    child.once('error', () => resolve(false));
    child.once('spawn', () => resolve(true));
  });
  if (!spawned) {
    throw new Error(
      'no Redis answers and redis-server is not on PATH. Install one (Debian/Ubuntu: apt-get install redis-server) or pass --redis redis://host:port',
    );
  }
  const url = `redis://${stagingHost}:${port}`;
  for (let i = 0; i < 50 && !(await answers(url)); i++) await new Promise((r) => setTimeout(r, 100));
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
