// The origin's delegate grants on real Redis: found by (domain, delegate key id), one grant per key
// (the later proof wins), bounded per domain (the soonest-expiring goes), expired ones dropped on record.
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { type Delegation, delegateKeyId, signDelegation } from '../../../src/native/protocol/delegation.js';
import { generateDomainKey } from '../../../src/native/protocol/domain-keys.js';
import { DelegateGrantStore, EXPIRED_GRANT_KEPT_S } from '../../../src/native/state/delegate-grants.js';
import { deleteKeys, redisUrl, testPrefix } from '../../support/redis.js';

describe('DelegateGrantStore', () => {
  const prefix = testPrefix();
  const redis = new Redis(redisUrl);
  const store = new DelegateGrantStore(redis, prefix, 3);
  const domainKey = generateDomainKey();
  // real time: Redis expires the keys by its own clock
  const now = Math.floor(Date.now() / 1000);
  afterAll(async () => {
    await deleteKeys(prefix);
    redis.disconnect();
  });
  const grant = (recipient: string, expires: number, delegate = generateDomainKey()): Delegation =>
    signDelegation({
      domain: 'b.example',
      recipient,
      endpoint: 'https://bob.b.example',
      delegateKey: delegate.publicKey,
      expires,
      privateKey: domainKey.privateKey,
    });

  it('finds a grant by its delegate key id only, in its own domain', async () => {
    const g = grant('bob@b.example', now + 600);
    await store.record(g, now);
    expect(await store.find('b.example', delegateKeyId(g))).toEqual(g);
    expect(await store.find('c.example', delegateKeyId(g))).toBeUndefined();
    expect(await store.find('b.example', domainKey.keyId)).toBeUndefined();
  });

  it('keeps one grant per key: a later proof for the same key replaces the earlier', async () => {
    const delegate = generateDomainKey();
    await store.record(grant('carol@b.example', now + 600, delegate), now);
    await store.record(grant('dave@b.example', now + 700, delegate), now);
    expect((await store.find('b.example', delegate.keyId))?.recipient).toBe('dave@b.example');
  });

  it('answers a delegate key only for its endpoint and while the grant runs', async () => {
    const g = grant('erin@b.example', now + 600);
    await store.record(g, now);
    const id = delegateKeyId(g);
    expect(await store.answerKey('b.example', id, 'https://bob.b.example', now)).toEqual(
      Buffer.from(g.delegate_key, 'base64url'),
    );
    expect(await store.answerKey('b.example', id, 'https://mx.b.example', now)).toBeUndefined();
    expect(await store.answerKey('b.example', id, 'https://bob.b.example', now + 601)).toBeUndefined();
  });

  it('holds at most its cap per domain, dropping the soonest to expire, and drops long-expired grants', async () => {
    const fresh = new DelegateGrantStore(redis, `${prefix}:cap`, 2);
    const soon = grant('f@b.example', now + 100);
    const later = grant('g@b.example', now + 200);
    const latest = grant('h@b.example', now + 300);
    for (const g of [later, soon, latest]) await fresh.record(g, now);
    expect(await fresh.find('b.example', delegateKeyId(later))).toEqual(later);
    expect(await fresh.find('b.example', delegateKeyId(soon))).toBeUndefined();
    expect(await fresh.find('b.example', delegateKeyId(latest))).toEqual(latest);
    // an expired grant is kept for a while (so its use is answered delegation_expired), then dropped
    const aging = new DelegateGrantStore(redis, `${prefix}:aging`, 2);
    const expired = grant('i@b.example', now - 10);
    await aging.record(expired, now);
    expect(await aging.find('b.example', delegateKeyId(expired))).toEqual(expired);
    await aging.record(grant('j@b.example', now + 400), now + EXPIRED_GRANT_KEPT_S);
    expect(await aging.find('b.example', delegateKeyId(expired))).toBeUndefined();
  });
});
