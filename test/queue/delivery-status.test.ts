// The per-recipient status store against a real Redis: attempts counted, final states kept.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryStatusStore } from '../../src/queue/delivery-status.js';
import { deleteKeys, redisUrl, testPrefix } from '../support/redis.js';

describe('DeliveryStatusStore', () => {
  const prefix = testPrefix();
  let redis: Redis;
  let store: DeliveryStatusStore;
  const t0 = new Date(Date.UTC(2024, 0, 1));
  const t1 = new Date(Date.UTC(2024, 0, 1, 0, 5));
  const t2 = new Date(Date.UTC(2024, 0, 1, 0, 10));

  beforeAll(() => {
    redis = new Redis(redisUrl);
    store = new DeliveryStatusStore(redis, prefix, 60);
  });
  afterAll(async () => {
    await deleteKeys(prefix);
    redis.disconnect();
  });

  it('starts every recipient queued, and a second queued() changes nothing', async () => {
    await store.queued('Q1', ['a@x.test', 'b@y.test'], t0);
    await store.record(
      'Q1',
      {
        recipient: 'a@x.test',
        state: 'deferred',
        reply: '451 4.3.0 later',
        code: 'remote_transient',
        host: '127.0.0.1:25',
      },
      t1,
    );
    await store.queued('Q1', ['a@x.test', 'b@y.test'], t2);
    expect(await store.get('Q1')).toEqual([
      {
        recipient: 'a@x.test',
        state: 'deferred',
        attempts: 1,
        reply: '451 4.3.0 later',
        code: 'remote_transient',
        host: '127.0.0.1:25',
        queuedAt: t0.toISOString(),
        lastAttemptAt: t1.toISOString(),
      },
      { recipient: 'b@y.test', state: 'queued', attempts: 0, queuedAt: t0.toISOString() },
    ]);
  });

  it('counts attempts and stamps the final state', async () => {
    await store.record(
      'Q1',
      { recipient: 'a@x.test', state: 'delivered', reply: '250 2.0.0 Ok', code: 'ok', host: '127.0.0.1:25' },
      t2,
    );
    expect(await store.recipient('Q1', 'a@x.test')).toMatchObject({
      state: 'delivered',
      attempts: 2,
      reply: '250 2.0.0 Ok',
      finalAt: t2.toISOString(),
    });
  });

  it('never overwrites a final state', async () => {
    const after = await store.record(
      'Q1',
      { recipient: 'a@x.test', state: 'deferred', reply: 'stale', code: 'remote_transient' },
      t2,
    );
    expect(after).toMatchObject({ state: 'delivered', reply: '250 2.0.0 Ok', attempts: 2 });
  });

  it('records an expiry without counting an attempt, and keeps text with quotes and slashes verbatim', async () => {
    const reply = 'delivery time expired; last reply: 421 4.4.2 "slow" down / later';
    const status = await store.record(
      'Q1',
      { recipient: 'b@y.test', state: 'expired', reply, code: 'lifetime_exceeded' },
      t2,
      false,
    );
    expect(status).toMatchObject({ state: 'expired', attempts: 0, reply, finalAt: t2.toISOString() });
    expect(status.host).toBeUndefined();
  });

  it('keeps the hash under the prefix with a retention TTL, and knows nothing of unknown ids', async () => {
    const ttl = await redis.ttl(`${prefix}:status:Q1`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60);
    expect(await store.get('NOPE')).toEqual([]);
    expect(await store.recipient('Q1', 'c@z.test')).toBeUndefined();
  });
});
