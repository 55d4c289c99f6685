// Per-peer request budget per minute in Redis (fixed window): the server answers 429 with
// Retry-After once a sending domain (or, before authentication, a client address group) spends it.
import { isIPv6 } from 'node:net';
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

/**
 * The unit a client address is counted in: an IPv4 address alone, an IPv6 address by its /64,
 * since one host is given a whole /64 and could otherwise take a fresh budget per address.
 */
export function clientGroup(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip)?.[1];
  if (mapped) return mapped;
  if (!isIPv6(ip)) return ip;
  const [head = '', tail] = ip.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
