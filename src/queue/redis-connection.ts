// Redis connections for BullMQ, made one way: workers block and wait out outages,
// producers fail fast so an SMTP client hears 451 instead of hanging on a dead Redis.

import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { Config } from '../config/schema.js';

export type ConnectionRole = 'worker' | 'producer';

/** A single Redis (or Sentinel's primary) or a Redis Cluster: both take the same commands. */
export type RedisClient = Redis | Cluster;

export function createRedisConnection(config: Pick<Config, 'redis'>, role: ConnectionRole): RedisClient {
  if (role === 'worker') {
    // BullMQ requires this for blocking commands; the worker reconnects by itself
    return connectRedis(config.redis, { maxRetriesPerRequest: null, lazyConnect: false });
  }
  return connectRedis(config.redis, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    commandTimeout: 5000,
  });
}

/**
 * Every client of ours is made here, so Sentinel and Cluster work everywhere: with `redis.sentinels`
 * set, ioredis asks them for the primary of `sentinel_master` and asks again after a failover; with
 * `redis.cluster_nodes` set, it learns the cluster's slots from those nodes and follows them as
 * they move. Either way the URL's host is then unused and only its user, password and TLS apply.
 */
export function connectRedis(redis: Config['redis'], options: RedisOptions): RedisClient {
  if (redis.cluster_nodes.length > 0) return connectCluster(redis, options);
  const sentinel: RedisOptions =
    redis.sentinels.length > 0
      ? { sentinels: redis.sentinels.map(({ host, port }) => ({ host, port })), name: redis.sentinel_master }
      : {};
  return new Redis(redis.url, { ...options, ...sentinel });
}

function connectCluster(redis: Config['redis'], options: RedisOptions): Cluster {
  const url = new URL(redis.url);
  const { enableOfflineQueue, lazyConnect, ...perNode } = options;
  return new Cluster(
    redis.cluster_nodes.map(({ host, port }) => ({ host, port })),
    {
      ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
      ...(lazyConnect === undefined ? {} : { lazyConnect }),
      redisOptions: {
        ...perNode,
        ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
        ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
        ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
      },
    },
  );
}

/** Resolves once the connection is ready, or rejects after `timeoutMs`. */
export async function waitReady(redis: RedisClient, timeoutMs = 5000): Promise<void> {
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
