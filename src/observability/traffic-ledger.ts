// The migration ledger: per UTC day, per peer domain, how many messages and bytes went each way over
// SMTP and over PMTP, and how first contact went. One Redis hash per day, kept 400 days and capped in
// domains per day, so `mailbridge report` and the per-domain metrics read it with bounded cost.
// Counts are summed in memory and written at most once a second: one script per day and domain
// instead of one per message (a kill -9 loses at most that second's counts, never mail).

import type { RedisClient } from '../queue/redis-connection.js';
import { groupedKey } from '../queue/redis-keys.js';

export type TrafficEvent =
  | {
      readonly kind: 'message';
      /** `in`: a peer's mail reached us; `out`: our mail reached a peer */
      readonly direction: 'in' | 'out';
      readonly protocol: 'smtp' | 'pmtp';
      readonly domain: string;
      readonly bytes: number;
    }
  | {
      readonly kind: 'first-contact';
      /** `received`: our answer to a peer's notice; `sent`: a peer's answer to ours */
      readonly side: 'received' | 'sent';
      readonly outcome: FirstContactOutcome;
      readonly domain: string;
    };

export type FirstContactOutcome = 'accepted' | 'deferred' | 'challenged' | 'redirected' | 'rejected';

/** A PMTP disposition (docs/protocol.md §10.3.3) as the ledger and the report name it. */
export const dispositionOutcome = {
  accepted: 'accepted',
  deferred: 'deferred',
  challenge: 'challenged',
  redirect: 'redirected',
  rejected: 'rejected',
} as const satisfies Record<string, FirstContactOutcome>;

/** Everything recorded for one peer domain over a span of days. */
export interface PeerTraffic {
  readonly domain: string;
  readonly messages: Record<'in' | 'out', Record<'smtp' | 'pmtp', number>>;
  readonly bytes: Record<'in' | 'out', Record<'smtp' | 'pmtp', number>>;
  readonly firstContact: Record<'received' | 'sent', Partial<Record<FirstContactOutcome, number>>>;
}

/** Domains beyond the daily cap are counted under this name, never dropped. */
export const otherDomains = '(other)';

const retentionS = 400 * 86_400;

// KEYS[1] day hash, KEYS[2] day's domain set; ARGV: domain, cap, ttl, then field-suffix/amount pairs
const recordScript = `
local domain = ARGV[1]
if redis.call('SISMEMBER', KEYS[2], domain) == 0 then
  if redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[2]) then domain = '${otherDomains}'
  else redis.call('SADD', KEYS[2], domain) end
end
for i = 4, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i] .. '|' .. domain, tonumber(ARGV[i + 1]))
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
`;

/** How long counts wait in memory before they are written. */
const flushDelayMs = 1000;

export class TrafficLedger {
  /** day → domain → field → amount, not yet written */
  private pending = new Map<string, Map<string, Map<string, number>>>();
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    /** distinct peer domains recorded per day; a flood of forged domains cannot grow Redis without bound */
    private readonly domainsPerDay = 10_000,
  ) {}

  /** Counts the event; it reaches Redis with the next flush (within a second). */
  async record(event: TrafficEvent, at: Date): Promise<void> {
    const fields: [string, number][] =
      event.kind === 'message'
        ? [
            [`m|${event.direction}|${event.protocol}`, 1],
            [`b|${event.direction}|${event.protocol}`, event.bytes],
          ]
        : [[`fc|${event.side}|${event.outcome}`, 1]];
    this.add(dayOf(at), event.domain.toLowerCase(), fields);
    this.timer ??= setTimeout(() => void this.flush().catch(() => undefined), flushDelayMs).unref();
  }

  private add(day: string, domain: string, fields: Iterable<[string, number]>): void {
    const domains = this.pending.get(day) ?? new Map<string, Map<string, number>>();
    this.pending.set(day, domains);
    // while Redis is away, memory is capped like the day's domain set
    const name = domains.has(domain) || domains.size < this.domainsPerDay ? domain : otherDomains;
    const counts = domains.get(name) ?? new Map<string, number>();
    domains.set(name, counts);
    for (const [field, amount] of fields) counts.set(field, (counts.get(field) ?? 0) + amount);
  }

  /** Writes every pending count; counts that could not be written stay pending for the next flush. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = new Map();
    const write = this.writing.then(() => this.write(batch));
    this.writing = write.catch(() => undefined);
    return write;
  }

  private async write(batch: Map<string, Map<string, Map<string, number>>>): Promise<void> {
    let failure: unknown;
    for (const [day, domains] of batch) {
      for (const [domain, counts] of domains) {
        try {
          await this.redis.eval(
            recordScript,
            2,
            this.dayKey(day),
            `${this.dayKey(day)}:domains`,
            domain,
            this.domainsPerDay,
            retentionS,
            ...[...counts].flat(),
          );
        } catch (err) {
          failure ??= err;
          this.add(day, domain, counts);
        }
      }
    }
    if (failure === undefined) return;
    this.timer ??= setTimeout(() => void this.flush().catch(() => undefined), flushDelayMs).unref();
    throw failure;
  }

  /** Per-domain totals over the `days` UTC days ending with `now`'s, this process's pending counts included. */
  async peers(days: number, now: Date): Promise<PeerTraffic[]> {
    await this.flush().catch(() => undefined);
    const byDomain = new Map<string, PeerTraffic>();
    for (let i = 0; i < days; i++) {
      const day = dayOf(new Date(now.getTime() - i * 86_400_000));
      const fields = await this.redis.hgetall(this.dayKey(day));
      for (const [field, value] of Object.entries(fields)) addField(byDomain, field, Number(value));
    }
    return [...byDomain.values()].sort((a, b) => a.domain.localeCompare(b.domain));
  }

  private dayKey(day: string): string {
    // the day's hash and its domain set are one script's keys: one slot
    return groupedKey(this.prefix, `traffic:${day}`, `traffic:${day}`);
  }
}

function dayOf(at: Date): string {
  return at.toISOString().slice(0, 10);
}

function emptyPeer(domain: string): PeerTraffic {
  const zero = () => ({ smtp: 0, pmtp: 0 });
  return {
    domain,
    messages: { in: zero(), out: zero() },
    bytes: { in: zero(), out: zero() },
    firstContact: { received: {}, sent: {} },
  };
}

/** Folds one stored field (`m|in|smtp|example.org` = 3) into the totals; unknown shapes are skipped. */
function addField(byDomain: Map<string, PeerTraffic>, field: string, value: number): void {
  const [kind, a, b, ...rest] = field.split('|');
  const domain = rest.join('|');
  if (!domain || !Number.isFinite(value)) return;
  const peer = byDomain.get(domain) ?? emptyPeer(domain);
  byDomain.set(domain, peer);
  const direction = a === 'in' || a === 'out' ? a : undefined;
  const protocol = b === 'smtp' || b === 'pmtp' ? b : undefined;
  if ((kind === 'm' || kind === 'b') && direction && protocol) {
    (kind === 'm' ? peer.messages : peer.bytes)[direction][protocol] += value;
  } else if (kind === 'fc' && (a === 'received' || a === 'sent')) {
    const outcome = b as FirstContactOutcome;
    peer.firstContact[a][outcome] = (peer.firstContact[a][outcome] ?? 0) + value;
  }
}
