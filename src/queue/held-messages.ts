// Messages an operator put on hold (Postfix's hold queue): one Redis hash, queue id -> when. A held
// message keeps its jobs, parked as delayed jobs far in the future, so recovery sees a live job
// and leaves it; only `queue release` (or delete) brings it back.

import type { RedisClient } from './redis-connection.js';

/** How far ahead a held job is parked: far beyond any retry schedule, yet a score BullMQ stores exactly. */
export const holdDelayMs = 5 * 365 * 86_400_000;

export class HeldMessages {
  private readonly key: string;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.key = `${prefix}:held`;
  }

  async hold(queueId: string, at: Date): Promise<void> {
    await this.redis.hset(this.key, queueId, at.toISOString());
  }

  /** true when the message was held */
  async release(queueId: string): Promise<boolean> {
    return (await this.redis.hdel(this.key, queueId)) === 1;
  }

  /** queue id -> ISO time it was put on hold */
  async all(): Promise<Map<string, string>> {
    return new Map(Object.entries(await this.redis.hgetall(this.key)));
  }

  async heldAt(queueId: string): Promise<string | undefined> {
    return (await this.redis.hget(this.key, queueId)) ?? undefined;
  }
}
