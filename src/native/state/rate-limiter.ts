// Per-minute budgets in Redis (fixed window), one per subject: an authenticated origin domain spends
// one unit per recipient it notifies and one per other request, a client address group (IPv6 by /64)
// spends one per request that fails authentication and one per key fetch it causes.
import { isIPv6 } from 'node:net';
import type { RedisClient } from '../../queue/redis-connection.js';

export type RateVerdict = { allowed: true } | { allowed: false; retryAfterS: number };

/** What a budget is for; each has its own limit in pmtp.rate_limits. */
export type RateBudget = 'peer' | 'unauthenticated' | 'key-fetch';

export interface RateLimits {
  readonly unauthenticated_per_minute: number;
  readonly key_fetches_per_minute: number;
  readonly peer_per_minute: number;
  readonly peers: Readonly<Record<string, number>>;
}

export class RateLimiter {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly limits: RateLimits,
  ) {}

  private limitOf(budget: RateBudget, subject: string): number {
    if (budget === 'unauthenticated') return this.limits.unauthenticated_per_minute;
    if (budget === 'key-fetch') return this.limits.key_fetches_per_minute;
    return this.limits.peers[subject] ?? this.limits.peer_per_minute;
  }

  private key(budget: RateBudget, subject: string, window: number): string {
    return `${this.prefix}:pmtp:rate:${budget}:${subject}:${window}`;
  }

  /** Spends `weight` units of the subject's budget; refused once the window's total exceeds the limit. */
  async spend(budget: RateBudget, subject: string, nowMs: number, weight = 1): Promise<RateVerdict> {
    const window = Math.floor(nowMs / 60_000);
    const key = this.key(budget, subject, window);
    const [[, count]] = (await this.redis.multi().incrby(key, weight).expire(key, 120).exec()) as [[unknown, number]];
    return count <= this.limitOf(budget, subject) ? { allowed: true } : refusal(window, nowMs);
  }

  /** Whether the subject has budget left, spending none (checked before work only failures pay for). */
  async check(budget: RateBudget, subject: string, nowMs: number): Promise<RateVerdict> {
    const window = Math.floor(nowMs / 60_000);
    const count = Number((await this.redis.get(this.key(budget, subject, window))) ?? 0);
    return count < this.limitOf(budget, subject) ? { allowed: true } : refusal(window, nowMs);
  }
}

function refusal(window: number, nowMs: number): RateVerdict {
  return { allowed: false, retryAfterS: Math.max(1, Math.ceil(((window + 1) * 60_000 - nowMs) / 1000)) };
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
