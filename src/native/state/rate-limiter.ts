// Per-peer request budget per minute in Redis (fixed window): the server answers 429 with
// Retry-After once a sending domain (or, before authentication, a client IP) spends it.
import type { Redis } from 'ioredis';

export type RateVerdict = { allowed: true } | { allowed: false; retryAfterS: number };

export class RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly perMinute: number,
  ) {}

  async hit(subject: string, nowMs: number, weight = 1): Promise<RateVerdict> {
    const window = Math.floor(nowMs / 60_000);
    const key = `${this.prefix}:pmtp:rate:${subject}:${window}`;
    const [[, count]] = (await this.redis.multi().incrby(key, weight).expire(key, 120).exec()) as [[unknown, number]];
    if (count <= this.perMinute) return { allowed: true };
    return { allowed: false, retryAfterS: Math.max(1, Math.ceil(((window + 1) * 60_000 - nowMs) / 1000)) };
  }
}
