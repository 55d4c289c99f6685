// How long the circuit breaker pauses a destination, on real Redis: jobs failing together trip it
// once with the short first pause (a peer restarting is probed again in seconds, the chaos test
// found every PMTP message held five minutes by one restart), a failed probe doubles the pause up
// to the longest, and a success resets it.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../../src/native/workers/circuit-breaker.js';
import type { MailQueues } from '../../../src/queue/queues.js';
import { deleteKeys, redisUrl, testPrefix } from '../../support/redis.js';

describe('circuit breaker pause', () => {
  const prefix = testPrefix();
  let redis: Redis;
  let breaker: CircuitBreaker;
  const domain = 'peer.example';

  beforeAll(() => {
    redis = new Redis(redisUrl);
    // success() asks the queues only for parked jobs, and none are parked here
    breaker = new CircuitBreaker(redis, prefix, {} as MailQueues, {
      failures: 3,
      firstPauseMs: 10_000,
      pauseMs: 35_000,
    });
  });
  afterAll(async () => {
    redis.disconnect();
    await deleteKeys(prefix);
  });

  it('trips once for failures seen together, doubles after a failed probe, and resets on success', async () => {
    const now = 1_000_000;
    const together = await Promise.all(Array.from({ length: 8 }, () => breaker.failure(domain, now)));
    expect(together.filter((s) => s.open)).toHaveLength(6);
    expect(new Set(together.flatMap((s) => (s.open ? [s.untilMs] : [])))).toEqual(new Set([now + 10_000]));
    expect(await breaker.state(domain, now + 5_000)).toEqual({ open: true, untilMs: now + 10_000 });

    // the pause ends: one job probes, the others wait one pause for it
    expect(await breaker.state(domain, now + 10_001)).toEqual({ open: false, probe: true });
    expect(await breaker.state(domain, now + 10_002)).toEqual({ open: true, untilMs: now + 20_002 });
    expect(await breaker.failure(domain, now + 10_500)).toEqual({ open: true, untilMs: now + 30_500 });
    // the failed probe's key is gone: after the doubled pause the next probe may go at once
    expect(await breaker.state(domain, now + 30_501)).toEqual({ open: false, probe: true });
    expect(await breaker.failure(domain, now + 31_000)).toEqual({ open: true, untilMs: now + 66_000 });
    expect(await breaker.state(domain, now + 66_001)).toEqual({ open: false, probe: true });
    // capped at the longest pause
    expect(await breaker.failure(domain, now + 67_000)).toEqual({ open: true, untilMs: now + 102_000 });

    expect(await breaker.success(domain)).toBe(0);
    // nothing on record after the reset: the next success needs no write
    expect(await breaker.state(domain, now + 67_001)).toEqual({ open: false, quiet: true });
    expect(await breaker.failure(domain, now + 68_000)).toEqual({ open: false });
    // one failure below the threshold is on record: the next success must reset it
    expect(await breaker.state(domain, now + 68_001)).toEqual({ open: false });
  });

  it('is one breaker for two gateways on one Redis: failures add up, one probe, one success closes it for both', async () => {
    const other = new Redis(redisUrl);
    try {
      const options = { failures: 4, firstPauseMs: 10_000, pauseMs: 35_000 };
      const gateways = [
        new CircuitBreaker(redis, prefix, {} as MailQueues, options),
        new CircuitBreaker(other, prefix, {} as MailQueues, options),
      ] as const;
      const shared = 'shared.example';
      const now = 2_000_000;
      // two failures on each: a per-process count would stay below the threshold of 4 on both
      const states = [];
      for (const g of [...gateways, ...gateways]) states.push(await g.failure(shared, now));
      expect(states.map((s) => s.open)).toEqual([false, false, false, true]);
      expect(await gateways[0].state(shared, now + 1)).toEqual({ open: true, untilMs: now + 10_000 });
      expect(await gateways[1].state(shared, now + 1)).toEqual({ open: true, untilMs: now + 10_000 });
      // after the pause exactly one of the two probes
      const probes = await Promise.all(gateways.map((g) => g.state(shared, now + 10_001)));
      expect(probes.filter((p) => !p.open && p.probe)).toHaveLength(1);
      expect(await gateways[1].success(shared)).toBe(0);
      expect(await gateways[0].state(shared, now + 10_002)).toEqual({ open: false, quiet: true });
    } finally {
      other.disconnect();
    }
  });
});
