// Redis connections for BullMQ, made one way: workers block and wait out outages,
// producers fail fast so an SMTP client hears 451 instead of hanging on a dead Redis.

import { Redis } from 'ioredis';
import type { Config } from '../config/schema.js';

export type ConnectionRole = 'worker' | 'producer';

export function createRedisConnection(config: Pick<Config, 'redis'>, role: ConnectionRole): Redis {
  if (role === 'worker') {
    // BullMQ requires this for blocking commands; the worker reconnects by itself
    return new Redis(config.redis.url, { maxRetriesPerRequest: null, lazyConnect: false });
  }
  return new Redis(config.redis.url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 5000,
  });
}

/** Resolves once the connection is ready, or rejects after `timeoutMs`. */
export async function waitReady(redis: Redis, timeoutMs = 5000): Promise<void> {
  if (redis.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = (): void => {
      cleanup();
      resolve();
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}
