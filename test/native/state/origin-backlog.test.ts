// The per-origin backlog on real Redis: admits up to its cap, answers a held entry again, gives a
// slot back on release, forgets entries whose notice expired, and keeps origins and kinds apart.
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { OriginBacklog } from '../../../src/native/state/origin-backlog.js';
import { deleteKeys, redisUrl, testPrefix } from '../../support/redis.js';

describe('OriginBacklog', () => {
  const prefix = testPrefix();
  const redis = new Redis(redisUrl);
  const backlog = new OriginBacklog(redis, prefix);
  afterAll(async () => {
    await deleteKeys(prefix);
    redis.disconnect();
  });
  const now = 1_800_000_000;
  const notice = (id: string, expires = now + 3600) => ({ id, version: 1, expires });

  it('admits up to the cap, answers a held entry again, and frees a slot on release', async () => {
    expect(await backlog.admit('deferred', 'a.example', notice('n1'), 2, now)).toBe('admitted');
    expect(await backlog.admit('deferred', 'a.example', notice('n2'), 2, now)).toBe('admitted');
    expect(await backlog.admit('deferred', 'a.example', notice('n3'), 2, now)).toBe('full');
    expect(await backlog.admit('deferred', 'a.example', notice('n1'), 2, now)).toBe('held');
    // another origin and another kind have their own caps
    expect(await backlog.admit('deferred', 'c.example', notice('n3'), 2, now)).toBe('admitted');
    expect(await backlog.admit('pull', 'a.example', notice('n3'), 2, now)).toBe('admitted');
    await backlog.release('deferred', 'a.example', 'n2', 1);
    expect(await backlog.admit('deferred', 'a.example', notice('n3'), 2, now)).toBe('admitted');
  });

  it('forgets entries whose notice expired, though no job released them', async () => {
    expect(await backlog.admit('pull', 'e.example', notice('old', now + 10), 1, now)).toBe('admitted');
    expect(await backlog.admit('pull', 'e.example', notice('new', now + 3600), 1, now)).toBe('full');
    expect(await backlog.admit('pull', 'e.example', notice('new', now + 3600), 1, now + 11)).toBe('admitted');
    expect(await redis.ttl(`${prefix}:pmtp:backlog:pull:e.example`)).toBeGreaterThan(0);
  });
});
