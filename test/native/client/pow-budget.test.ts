// The per-destination proof-of-work budget: never more than a full bucket plus the hour's refill
// is spent, a refusal names a time at which the same request succeeds, and destinations are apart.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PowBudget } from '../../../src/native/client/pow-budget.js';

const HOUR_MS = 3_600_000;

describe('PowBudget', () => {
  it('spends at most a full bucket plus what the elapsed time refilled', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 30 }),
        fc.array(
          fc.record({
            afterMs: fc.integer({ min: 0, max: HOUR_MS / 4 }),
            least: fc.integer({ min: 1, max: 2 ** 31 }),
            headroom: fc.integer({ min: 0, max: 6 }),
            usedShare: fc.double({ min: 0, max: 1, noNaN: true }),
          }),
          { maxLength: 60 },
        ),
        (perHour, steps) => {
          const budget = new PowBudget(perHour);
          let now = 0;
          let spent = 0;
          for (const step of steps) {
            now += step.afterMs;
            const wanted = step.least * 2 ** step.headroom;
            const r = budget.reserve('b.example', now, wanted, step.least);
            if (r.ok) {
              expect(r.granted).toBeGreaterThanOrEqual(step.least);
              expect(r.granted).toBeLessThanOrEqual(wanted);
              const used = Math.floor(r.granted * step.usedShare);
              budget.refund('b.example', now, r.granted - used);
              spent += used;
            } else if ('never' in r) {
              expect(step.least).toBeGreaterThan(perHour);
            } else {
              expect(r.retryAtMs).toBeGreaterThan(now);
            }
            expect(spent).toBeLessThanOrEqual(perHour + (now * perHour) / HOUR_MS + 1);
          }
        },
      ),
    );
  });

  it('grants at the time it names when refusing', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1000, max: 2 ** 30 }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        (perHour, firstShare, secondShare) => {
          const budget = new PowBudget(perHour);
          const first = Math.max(1, Math.floor(perHour * firstShare));
          const second = Math.max(1, Math.floor(perHour * secondShare));
          expect(budget.reserve('b.example', 0, first, first)).toMatchObject({ ok: true, granted: first });
          const refused = budget.reserve('b.example', 1, second, second);
          if (refused.ok || 'never' in refused) return;
          expect(budget.reserve('b.example', refused.retryAtMs - 1000, second, second).ok).toBe(false);
          expect(budget.reserve('b.example', refused.retryAtMs, second, second)).toMatchObject({ ok: true });
        },
      ),
    );
  });

  it('refuses for good what a full bucket cannot hold, and keeps destinations apart', () => {
    const budget = new PowBudget(1000);
    expect(budget.reserve('b.example', 0, 2000, 1001)).toEqual({ ok: false, never: true });
    expect(budget.reserve('b.example', 0, 1000, 1000)).toEqual({ ok: true, granted: 1000 });
    expect(budget.reserve('b.example', 0, 1, 1)).toMatchObject({ ok: false, retryAtMs: 3600 });
    expect(budget.reserve('c.example', 0, 1000, 1000)).toEqual({ ok: true, granted: 1000 });
    budget.refund('b.example', 0, 400);
    expect(budget.reserve('b.example', 0, 1000, 300)).toEqual({ ok: true, granted: 400 });
  });
});
