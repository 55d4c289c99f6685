import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { attemptsWithin, lifetimeExceeded, retryDelayMs } from '../../src/queue/retry-policy.js';

const postfix = { initial_delay_s: 300, max_delay_s: 4000, lifetime_s: 432_000, jitter: 0 };

describe('retry policy', () => {
  it("follows Postfix's schedule: 300 s doubling to a 4000 s cap", () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(postfix, n, 0.5) / 1000)).toEqual([
      300, 600, 1200, 2400, 4000, 4000,
    ]);
  });

  it('fits its attempts into the five-day lifetime', () => {
    const attempts = attemptsWithin(postfix);
    let total = 0;
    for (let n = 1; n < attempts; n++) total += retryDelayMs(postfix, n, 0.5);
    expect(total).toBeLessThanOrEqual(postfix.lifetime_s * 1000);
    expect(total + retryDelayMs(postfix, attempts, 0.5)).toBeGreaterThan(postfix.lifetime_s * 1000);
  });

  it('never exceeds the cap by more than the jitter, never goes below the floor by more', () => {
    fc.assert(
      fc.property(
        fc.record({
          initial_delay_s: fc.integer({ min: 1, max: 3600 }),
          max_delay_s: fc.integer({ min: 1, max: 86_400 }),
          lifetime_s: fc.integer({ min: 1, max: 864_000 }),
          jitter: fc.double({ min: 0, max: 1, noNaN: true }),
        }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (policy, attempt, random) => {
          const delay = retryDelayMs(policy, attempt, random);
          const cap = Math.max(policy.max_delay_s, Math.min(policy.initial_delay_s, policy.max_delay_s));
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(Math.round(cap * (1 + policy.jitter) * 1000));
        },
      ),
    );
  });

  it('without jitter, delays never shrink', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 100_000 }),
        fc.integer({ min: 1, max: 200 }),
        (initial, max, n) => {
          const policy = { initial_delay_s: initial, max_delay_s: max, lifetime_s: 1, jitter: 0 };
          expect(retryDelayMs(policy, n + 1, 0)).toBeGreaterThanOrEqual(retryDelayMs(policy, n, 0));
        },
      ),
    );
  });

  it('counts the same attempts as walking every delay, without walking the capped ones', () => {
    /** the schedule summed delay by delay, as BullMQ will wait them */
    const walked = (policy: typeof postfix): number => {
      let elapsed = 0;
      for (let attempts = 1; ; attempts++) {
        elapsed += retryDelayMs(policy, attempts, 0.5);
        if (elapsed > policy.lifetime_s * 1000) return attempts;
      }
    };
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3600 }),
        fc.integer({ min: 1, max: 7200 }),
        fc.integer({ min: 1, max: 200_000 }),
        (initial, max, lifetime) => {
          const policy = { initial_delay_s: initial, max_delay_s: max, lifetime_s: lifetime, jitter: 0 };
          expect(attemptsWithin(policy)).toBe(walked(policy));
        },
      ),
    );
    // a 2 s cap over five days: 216,000 attempts, counted without a loop of that length
    expect(attemptsWithin({ ...postfix, initial_delay_s: 1, max_delay_s: 2 })).toBe(
      walked({ ...postfix, initial_delay_s: 1, max_delay_s: 2 }),
    );
  });

  it('knows when the lifetime is over', () => {
    expect(lifetimeExceeded(postfix, 0, 432_000_000 - 1)).toBe(false);
    expect(lifetimeExceeded(postfix, 0, 432_000_000)).toBe(true);
  });
});
