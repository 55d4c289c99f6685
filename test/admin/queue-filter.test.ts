// The operator's selection of queued messages: each criterion alone against a model, and that
// criteria combine as "all of them" (a message passes the conjunction iff it passes each one).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchesFilter, type QueueFilter } from '../../src/admin/queue-filter.js';
import type { QueuedMessage } from '../../src/admin/queue-inspection.js';

const now = Date.parse('2026-12-05T12:00:00Z');

const message = fc.record({
  sender: fc.constantFrom('alice@alpha.test', 'NEWS@Shop.test', '', undefined),
  recipients: fc.array(fc.constantFrom('bob@legacy.test', 'carol@other.test', 'erin@ALPHA.test'), { maxLength: 3 }),
  ageS: fc.integer({ min: 0, max: 10 * 86_400 }),
  jobState: fc.constantFrom('waiting', 'active', 'delayed', 'failed'),
  rcptState: fc.constantFrom('queued', 'deferred', 'delivered'),
});

type Generated = typeof message extends fc.Arbitrary<infer T> ? T : never;

function build(m: Generated): QueuedMessage {
  return {
    queueId: 'Q',
    spooled: m.sender !== undefined,
    sender: m.sender,
    arrivalTime: m.sender === undefined ? undefined : new Date(now - m.ageS * 1000).toISOString(),
    recipients: m.recipients.map((address) => ({ address, state: m.rcptState as 'queued', attempts: 0 })),
    jobs: [{ queue: 'outbound', state: m.jobState as 'waiting', attemptsMade: 0, maxAttempts: 1 }],
  };
}

const filter = fc.record(
  {
    domain: fc.constantFrom('alpha.test', 'Legacy.TEST', 'shop.test', 'nowhere.test'),
    sender: fc.constantFrom('alice@alpha.test', 'news@shop.test', '<>'),
    state: fc.constantFrom('waiting', 'delayed', 'failed', 'deferred', 'delivered'),
    olderThanS: fc.integer({ min: 0, max: 10 * 86_400 }),
    newerThanS: fc.integer({ min: 0, max: 10 * 86_400 }),
  },
  { requiredKeys: [] },
);

describe('queue filter', () => {
  it('an empty filter selects everything', () => {
    fc.assert(fc.property(message, (m) => matchesFilter(build(m), {}, now)));
  });

  it('domain matches the sender or any recipient, in any case', () => {
    fc.assert(
      fc.property(message, fc.constantFrom('alpha.test', 'legacy.test', 'shop.test'), (m, domain) => {
        const addresses = [m.sender ?? '', ...m.recipients].map((a) => a.toLowerCase());
        const expected = addresses.some((a) => a.endsWith(`@${domain}`));
        expect(matchesFilter(build(m), { domain: domain.toUpperCase() }, now)).toBe(expected);
      }),
    );
  });

  it('sender <> is the null sender; age needs a spooled arrival time', () => {
    fc.assert(
      fc.property(message, (m) => {
        expect(matchesFilter(build(m), { sender: '<>' }, now)).toBe(m.sender === '');
        expect(matchesFilter(build(m), { olderThanS: 0 }, now)).toBe(m.sender !== undefined);
      }),
    );
  });

  it('criteria combine as a conjunction', () => {
    fc.assert(
      fc.property(message, filter, (m, f) => {
        const each = (Object.entries(f) as [keyof QueueFilter, unknown][]).every(([k, v]) =>
          matchesFilter(build(m), { [k]: v }, now),
        );
        expect(matchesFilter(build(m), f, now)).toBe(each);
      }),
    );
  });
});
