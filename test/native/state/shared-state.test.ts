// First-contact and token state is Redis state, so two gateways on one Redis (two connections here,
// as two processes have) share it: a token's uses, a stamp's single spend, a replayed nonce, a
// recipient's contacts and an origin's backlog cap count once for the fleet, never once per process.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContactStore } from '../../../src/native/state/contacts.js';
import { NonceStore } from '../../../src/native/state/nonce-store.js';
import { OriginBacklog } from '../../../src/native/state/origin-backlog.js';
import { PowStampStore } from '../../../src/native/state/pow-stamps.js';
import { RateLimiter } from '../../../src/native/state/rate-limiter.js';
import { SenderTokenStore } from '../../../src/native/state/sender-tokens.js';
import { deleteKeys, redisUrl, testPrefix } from '../../support/redis.js';

describe('first-contact and token state shared by two gateways', () => {
  const prefix = testPrefix();
  let one: Redis;
  let two: Redis;
  const farFuture = 4_000_000_000;

  beforeAll(() => {
    one = new Redis(redisUrl);
    two = new Redis(redisUrl);
  });
  afterAll(async () => {
    one.disconnect();
    two.disconnect();
    await deleteKeys(prefix);
  });

  it('counts a sender token with max_uses 2 once across both', async () => {
    const [a, b] = [new SenderTokenStore(one, prefix), new SenderTokenStore(two, prefix)];
    expect(await a.use('tok_shared', 'origin.test m1 r1', 2, farFuture)).toBe('ok');
    expect(await b.use('tok_shared', 'origin.test m2 r1', 2, farFuture)).toBe('ok');
    // the same use again is not a second use, on either gateway
    expect(await b.use('tok_shared', 'origin.test m1 r1', 2, farFuture)).toBe('ok');
    expect(await a.use('tok_shared', 'origin.test m3 r1', 2, farFuture)).toBe('token_exhausted');
    expect(await b.use('tok_shared', 'origin.test m3 r1', 2, farFuture)).toBe('token_exhausted');
    await a.revoke('tok_shared');
    expect(await b.use('tok_shared', 'origin.test m1 r1', 2, farFuture)).toBe('token_revoked');
  });

  it('spends a proof-of-work stamp once, and refuses a nonce replayed to the other gateway', async () => {
    const [a, b] = [new PowStampStore(one, prefix), new PowStampStore(two, prefix)];
    expect(await a.spend('stamp-1', 'use-a', farFuture)).toBe(true);
    expect(await b.spend('stamp-1', 'use-b', farFuture)).toBe(false);
    expect(await b.spend('stamp-1', 'use-a', farFuture)).toBe(true);
    const [na, nb] = [new NonceStore(one, prefix, 30), new NonceStore(two, prefix, 30)];
    expect(await na.claim('origin.test', 'nonce-1', farFuture)).toBe(true);
    expect(await nb.claim('origin.test', 'nonce-1', farFuture)).toBe(false);
  });

  it('shares contacts, the per-origin backlog cap and the per-minute budgets', async () => {
    await new ContactStore(one, prefix).add('bob@b.test', 'alice@A.test');
    expect(await new ContactStore(two, prefix).has('bob@b.test', 'alice@a.test')).toBe(true);

    const [ba, bb] = [new OriginBacklog(one, prefix), new OriginBacklog(two, prefix)];
    const notice = (id: string) => ({ id, version: 1, expires: farFuture });
    expect(await ba.admit('pull', 'origin.test', notice('n1'), 2, 1000)).toBe('admitted');
    expect(await bb.admit('pull', 'origin.test', notice('n2'), 2, 1000)).toBe('admitted');
    expect(await ba.admit('pull', 'origin.test', notice('n3'), 2, 1000)).toBe('full');

    const limits = { unauthenticated_per_minute: 3, key_fetches_per_minute: 1, peer_per_minute: 1, peers: {} };
    const [ra, rb] = [new RateLimiter(one, prefix, limits), new RateLimiter(two, prefix, limits)];
    const now = 1_700_000_000_000;
    const verdicts = [];
    for (let i = 0; i < 3; i++)
      for (const r of [ra, rb]) verdicts.push((await r.spend('unauthenticated', '192.0.2.1', now)).allowed);
    expect(verdicts).toEqual([true, true, true, false, false, false]);
  });
});
