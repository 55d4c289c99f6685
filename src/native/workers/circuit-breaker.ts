// Per-destination circuit breaker in Redis: after N consecutive failures a domain is paused, its
// jobs park as delayed until the pause ends; the first success after that promotes every parked
// job at once, so the queue catches up immediately instead of waiting out each job's backoff.
// The first pause is short and each failed probe doubles it up to the longest: a peer that was
// down for a restart is probed again within a minute, a dead one is left alone for longer.

import type { QueueName } from '../../config/schema.js';
import type { MailQueues } from '../../queue/queues.js';
import type { RedisClient } from '../../queue/redis-connection.js';
import { groupedKey } from '../../queue/redis-keys.js';

/**
 * closed: send; open: wait until untilMs; half-open: one probe may send, the rest wait for it.
 * `quiet`: closed with no failure on record, so a success has nothing to reset.
 */
export type BreakerState = { open: false; probe?: boolean; quiet?: true } | { open: true; untilMs: number };

export class CircuitBreaker {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly queues: MailQueues,
    private readonly options: { failures: number; firstPauseMs: number; pauseMs: number },
  ) {}

  /** the first pause, which is also how long a job that found the domain down waits before the breaker trips */
  get firstPauseMs(): number {
    return Math.min(this.options.firstPauseMs, this.options.pauseMs);
  }

  private key(domain: string): string {
    // with its :probe and :parked keys, one slot: the trip script and success's MULTI touch them together
    return groupedKey(this.prefix, `breaker:${domain}`, `pmtp:breaker:${domain}`);
  }

  async state(domain: string, nowMs: number): Promise<BreakerState> {
    const [failures, until, pause] = (
      await this.redis.hmget(this.key(domain), 'failures', 'open_until', 'pause_ms')
    ).map(Number) as [number, number, number];
    if (until > nowMs) return { open: true, untilMs: until };
    if (failures === 0 && until === 0) return { open: false, quiet: true };
    if (failures < this.options.failures) return { open: false };
    // half-open: exactly one job probes the domain; the others wait to be promoted by its success
    // (a probe that dies unanswered is replaced after one pause)
    const pauseMs = pause > 0 ? pause : this.firstPauseMs;
    const probe = await this.redis.set(`${this.key(domain)}:probe`, '1', 'PX', pauseMs, 'NX');
    return probe === 'OK' ? { open: false, probe: true } : { open: true, untilMs: nowMs + pauseMs };
  }

  /**
   * Counts a failure; opens the breaker when the threshold is reached. Jobs failing together while
   * it is open are one outage and do not lengthen the pause; a failure once it has ended (the
   * probe's) doubles it, up to `pauseMs`.
   */
  async failure(domain: string, nowMs: number): Promise<BreakerState> {
    const [open, untilMs] = (await this.redis.eval(
      tripScript,
      2,
      this.key(domain),
      `${this.key(domain)}:probe`,
      this.options.failures,
      nowMs,
      this.options.firstPauseMs,
      this.options.pauseMs,
    )) as [number, number];
    return open === 1 ? { open: true, untilMs } : { open: false };
  }

  /** Remembers a job waiting for `domain` to recover. */
  async park(domain: string, queue: QueueName, jobId: string): Promise<void> {
    await this.redis.sadd(`${this.key(domain)}:parked`, `${queue} ${jobId}`);
  }

  /** Closes the breaker; if it had tripped or counted failures, promotes every parked job. */
  async success(domain: string): Promise<number> {
    const [[, failures]] = (await this.redis
      .multi()
      .hget(this.key(domain), 'failures')
      .del(this.key(domain), `${this.key(domain)}:probe`)
      .exec()) as [[unknown, string | null]];
    if (failures === null) return 0;
    const parkedKey = `${this.key(domain)}:parked`;
    const parked = await this.redis.smembers(parkedKey);
    await this.redis.del(parkedKey);
    let promoted = 0;
    for (const member of parked) {
      const [queue, jobId] = member.split(' ') as [QueueName, string];
      const job = await this.queues.queue(queue).getJob(jobId);
      if (job && (await job.isDelayed())) {
        await job.promote().catch(() => undefined);
        promoted++;
      }
    }
    return promoted;
  }
}

/** Atomic, so failures seen by concurrent jobs trip the breaker once: KEYS breaker, probe; ARGV threshold, now, first pause, longest pause. */
const tripScript = `
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
redis.call('EXPIRE', KEYS[1], 86400)
if failures < tonumber(ARGV[1]) then return {0, 0} end
local now = tonumber(ARGV[2])
local untilMs = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
if untilMs > now then return {1, untilMs} end
local pause = tonumber(redis.call('HGET', KEYS[1], 'pause_ms') or '0')
if pause > 0 then pause = math.min(pause * 2, tonumber(ARGV[4])) else pause = math.min(tonumber(ARGV[3]), tonumber(ARGV[4])) end
untilMs = now + pause
redis.call('HSET', KEYS[1], 'open_until', untilMs, 'pause_ms', pause)
redis.call('DEL', KEYS[2])
return {1, untilMs}
`;
