// Per-destination sending limits kept in Redis, so every gateway on one Redis (or Redis Cluster)
// shares them: at most `concurrency` transactions at once and `perMinute` in any 60 s per
// destination, fleet-wide. N processes never multiply a limit; a dead holder's slot lapses.
import { randomUUID } from 'node:crypto';
import { MailbridgeError } from '../codes.js';
import type { RedisClient } from './redis-connection.js';
import { groupedKey } from './redis-keys.js';

export interface DestinationLimit {
  readonly concurrency: number;
  /** sends per sliding minute; 0 means no limit */
  readonly perMinute: number;
}

/** A slot held for one transaction; release it when the transaction is over. */
export interface DestinationLease {
  release(): Promise<void>;
}

/** A slot is held for this long unless renewed; the holder renews it while it sends. */
const LEASE_MS = 60_000;
const RENEW_MS = LEASE_MS / 3;
const MINUTE_MS = 60_000;
/** Polling for a slot someone else releases: a short, spread interval. */
const POLL_MS = 100;

// Redis's clock, not each gateway's: skew between machines must not widen a limit
const clock = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

// KEYS[1] slots (lease id -> lapse time), KEYS[2] sends (send id -> time); ARGV id, lease ms,
// concurrency, per minute (0 = none). Returns {1, 0} admitted; {0, ms until a slot lapses} when all
// are held; {-1, ms until the oldest send of the minute ages out} when the minute's budget is spent.
const admitScript = `${clock}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(first[2]) - now}
end
local perMinute = tonumber(ARGV[4])
if perMinute > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - ${MINUTE_MS})
  if redis.call('ZCARD', KEYS[2]) >= perMinute then
    local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    return {-1, tonumber(oldest[2]) + ${MINUTE_MS} - now}
  end
  redis.call('ZADD', KEYS[2], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ${MINUTE_MS})
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, 0}
`;

// KEYS[1] slots; ARGV id, lease ms: only a slot still held is renewed
const renewScript = `${clock}
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
`;

/** Refused: `busy` (every slot held) or `rate` (the minute's sends spent), and the longest wait worth making. */
export type Admission =
  | { readonly admitted: true; readonly lease: DestinationLease }
  | { readonly admitted: false; readonly reason: 'busy' | 'rate'; readonly waitMs: number };

export class DestinationLimits {
  private stopped = false;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  // the slots and the send log are one script's keys: one slot per destination on Redis Cluster
  private keys(destination: string): [string, string] {
    const group = `dest:${destination}`;
    return [
      groupedKey(this.prefix, group, `dest:slots:${destination}`),
      groupedKey(this.prefix, group, `dest:sends:${destination}`),
    ];
  }

  /** One try: a lease, or how long waiting is worth before the next try. */
  async tryAdmit(destination: string, limit: DestinationLimit): Promise<Admission> {
    const [slots, sends] = this.keys(destination);
    const id = randomUUID();
    const [ok, waitMs] = (await this.redis.eval(
      admitScript,
      2,
      slots,
      sends,
      id,
      LEASE_MS,
      limit.concurrency,
      limit.perMinute,
    )) as [number, number];
    if (ok === 1) return { admitted: true, lease: this.lease(slots, id) };
    return { admitted: false, reason: ok === 0 ? 'busy' : 'rate', waitMs: Math.max(1, waitMs) };
  }

  /** Waits until the destination has a free slot and minute budget, then holds a slot. */
  async admit(destination: string, limit: DestinationLimit): Promise<DestinationLease> {
    for (;;) {
      // a job waiting at shutdown goes again later (as after a Redis fault), spending no attempt
      if (this.stopped) throw new MailbridgeError('queue_unavailable', `gateway closing: no slot for ${destination}`);
      const answer = await this.tryAdmit(destination, limit);
      if (answer.admitted) return answer.lease;
      // a slot is usually released long before it would lapse: look again soon; a spent minute
      // frees up exactly when said. Spread out, so waiting gateways do not ask in step.
      const spread = Math.random() * POLL_MS;
      const waitMs = answer.reason === 'busy' ? Math.min(answer.waitMs, POLL_MS) : answer.waitMs;
      await new Promise((r) => setTimeout(r, waitMs + spread));
    }
  }

  /** Ends every wait for a slot: a shutdown does not wait out other gateways' transactions or a spent minute. */
  stopWaiting(): void {
    this.stopped = true;
  }

  private lease(slots: string, id: string): DestinationLease {
    const renew = setInterval(() => {
      // a failed renewal only risks the slot lapsing early: one transaction too many, never a stall
      this.redis.eval(renewScript, 1, slots, id, LEASE_MS).catch(() => undefined);
    }, RENEW_MS);
    renew.unref();
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(renew);
        await this.redis.zrem(slots, id);
      },
    };
  }
}
