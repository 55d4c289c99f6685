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

  it('spends one budget across the addresses of a /64 and answers when to come back', async () => {
    const limiter = new RateLimiter(redis, prefix, 3);
    const now = 120_000 + 15_000;
    const addresses = ['2001:db8:7:7::1', '2001:db8:7:7::2', '2001:db8:7:7:abcd::3', '2001:db8:7:7::4'];
    const verdicts = [];
    for (const ip of addresses) verdicts.push(await limiter.hit(`ip:${clientGroup(ip)}`, now));
    expect(verdicts.slice(0, 3)).toEqual([{ allowed: true }, { allowed: true }, { allowed: true }]);
    expect(verdicts[3]).toEqual({ allowed: false, retryAfterS: 45 });
    expect(await limiter.hit(`ip:${clientGroup('2001:db8:7:8::1')}`, now)).toEqual({ allowed: true });
    expect(await limiter.hit(`ip:${clientGroup('2001:db8:7:7::1')}`, now + 60_000)).toEqual({ allowed: true });
  });
});
