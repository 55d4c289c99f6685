// The migration ledger on a real Redis: counts per domain, direction and protocol add up across
// days within the window only, notice outcomes are kept apart, and the daily domain cap folds the
// excess into `(other)` instead of growing Redis or dropping counts; counts are written in batches,
// and counts a flush could not write are kept for the next one.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { otherDomains, TrafficLedger } from '../../src/observability/traffic-ledger.js';
import { deleteKeys, redisUrl, testPrefix } from '../support/redis.js';

describe('traffic ledger', () => {
  const prefix = testPrefix();
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(redisUrl);
  });
  afterAll(async () => {
    redis.disconnect();
    await deleteKeys(prefix);
  });

  it('adds messages and bytes per domain within the window, and keeps notice outcomes apart', async () => {
    const ledger = new TrafficLedger(redis, `${prefix}a`);
    const today = new Date('2026-12-05T10:00:00Z');
    const yesterday = new Date('2026-12-04T23:59:59Z');
    const lastWeek = new Date('2026-11-27T12:00:00Z');
    await ledger.record(
      { kind: 'message', direction: 'in', protocol: 'smtp', domain: 'Legacy.Example', bytes: 100 },
      today,
    );
    await ledger.record(
      { kind: 'message', direction: 'in', protocol: 'smtp', domain: 'legacy.example', bytes: 50 },
      yesterday,
    );
    await ledger.record({ kind: 'message', direction: 'out', protocol: 'pmtp', domain: 'b.example', bytes: 7 }, today);
    await ledger.record({ kind: 'first-contact', side: 'sent', outcome: 'challenged', domain: 'b.example' }, today);
    await ledger.record(
      { kind: 'message', direction: 'out', protocol: 'smtp', domain: 'old.example', bytes: 1 },
      lastWeek,
    );

    const peers = await ledger.peers(7, today);
    expect(peers.map((p) => p.domain)).toEqual(['b.example', 'legacy.example']);
    expect(peers[1]).toMatchObject({ messages: { in: { smtp: 2, pmtp: 0 } }, bytes: { in: { smtp: 150 } } });
    expect(peers[0]).toMatchObject({
      messages: { out: { pmtp: 1, smtp: 0 } },
      bytes: { out: { pmtp: 7 } },
      firstContact: { sent: { challenged: 1 }, received: {} },
    });
    expect((await ledger.peers(1, today)).find((p) => p.domain === 'legacy.example')?.messages.in.smtp).toBe(1);
    expect((await ledger.peers(9, today)).map((p) => p.domain)).toContain('old.example');
    expect(await redis.ttl(`${prefix}a:traffic:2026-12-05`)).toBeGreaterThan(399 * 86_400);
  });

  it('counts domains beyond the daily cap under (other), losing no message', async () => {
    const ledger = new TrafficLedger(redis, `${prefix}b`, 2);
    const at = new Date('2026-12-05T10:00:00Z');
    for (const domain of ['one.example', 'two.example', 'three.example', 'four.example', 'one.example'])
      await ledger.record({ kind: 'message', direction: 'in', protocol: 'smtp', domain, bytes: 1 }, at);
    const peers = await ledger.peers(1, at);
    expect(peers.map((p) => [p.domain, p.messages.in.smtp])).toEqual([
      [otherDomains, 2],
      ['one.example', 2],
      ['two.example', 1],
    ]);
  });

  it('writes counts in one batch at the flush, and keeps counts whose write failed', async () => {
    const at = new Date('2026-12-05T10:00:00Z');
    const writer = new TrafficLedger(redis, `${prefix}c`);
    const reader = new TrafficLedger(redis, `${prefix}c`);
    for (let i = 0; i < 3; i++)
      await writer.record({ kind: 'message', direction: 'out', protocol: 'pmtp', domain: 'B.example', bytes: 10 }, at);
    // nothing written yet: another process sees no count
    expect(await reader.peers(1, at)).toEqual([]);
    await writer.flush();
    const written = (await reader.peers(1, at)).find((p) => p.domain === 'b.example');
    expect([written?.messages.out.pmtp, written?.bytes.out.pmtp]).toEqual([3, 30]);

    // a Redis that cannot be reached: the flush fails, the count stays pending
    const away = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    away.on('error', () => undefined);
    const cut = new TrafficLedger(away, `${prefix}d`);
    await cut.record({ kind: 'first-contact', side: 'sent', outcome: 'accepted', domain: 'c.example' }, at);
    await expect(cut.flush()).rejects.toThrow();
    await expect(cut.flush()).rejects.toThrow();
    away.disconnect();
  });
});
