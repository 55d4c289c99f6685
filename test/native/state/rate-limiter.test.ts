// The PMTP request budget on real Redis: one window per subject, 429 once spent, and IPv6 clients
// counted per /64 so rotating addresses inside one prefix buys no extra budget.
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { clientGroup, RateLimiter } from '../../../src/native/state/rate-limiter.js';
import { deleteKeys, redisUrl, testPrefix } from '../../support/redis.js';

describe('clientGroup', () => {
  it.each([
    ['192.0.2.7', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff::1', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
  ])('%s counts as %s', (ip, group) => {
    expect(clientGroup(ip)).toBe(group);
  });
});

describe('RateLimiter', () => {
  const prefix = testPrefix();
  const redis = new Redis(redisUrl);
  afterAll(async () => {
    await deleteKeys(prefix);
    redis.disconnect();
  });

  const limits = {
    unauthenticated_per_minute: 3,
    key_fetches_per_minute: 2,
    peer_per_minute: 10,
    peers: { 'big.example': 100 },
  };

  it('spends one budget across the addresses of a /64 and answers when to come back', async () => {
    const limiter = new RateLimiter(redis, prefix, limits);
    const now = 120_000 + 15_000;
    const addresses = ['2001:db8:7:7::1', '2001:db8:7:7::2', '2001:db8:7:7:abcd::3', '2001:db8:7:7::4'];
    const verdicts = [];
    for (const ip of addresses) verdicts.push(await limiter.spend('unauthenticated', clientGroup(ip), now));
    expect(verdicts.slice(0, 3)).toEqual([{ allowed: true }, { allowed: true }, { allowed: true }]);
    expect(verdicts[3]).toEqual({ allowed: false, retryAfterS: 45 });
    expect(await limiter.check('unauthenticated', clientGroup('2001:db8:7:7::9'), now)).toEqual({
      allowed: false,
      retryAfterS: 45,
    });
    expect(await limiter.spend('unauthenticated', clientGroup('2001:db8:7:8::1'), now)).toEqual({ allowed: true });
    expect(await limiter.spend('unauthenticated', clientGroup('2001:db8:7:7::1'), now + 60_000)).toEqual({
      allowed: true,
    });
  });

  it('weighs a spend by recipients and takes a per-domain override', async () => {
    const limiter = new RateLimiter(redis, prefix, limits);
    const now = 600_000;
    expect(await limiter.spend('peer', 'small.example', now, 10)).toEqual({ allowed: true });
    expect(await limiter.spend('peer', 'small.example', now, 1)).toMatchObject({ allowed: false });
    expect(await limiter.spend('peer', 'big.example', now, 60)).toEqual({ allowed: true });
    expect(await limiter.spend('peer', 'big.example', now, 40)).toEqual({ allowed: true });
    expect(await limiter.spend('peer', 'big.example', now, 1)).toMatchObject({ allowed: false });
    // budgets are separate: a domain's spend is not its name's key-fetch budget
    expect(await limiter.check('key-fetch', 'small.example', now)).toEqual({ allowed: true });
  });
});
