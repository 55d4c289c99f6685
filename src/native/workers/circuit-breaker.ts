// Per-destination circuit breaker in Redis: after N consecutive failures a domain is paused, its
// jobs park as delayed until the pause ends; the first success after that promotes every parked
// job at once, so the queue catches up immediately instead of waiting out each job's backoff.
import type { Redis } from 'ioredis';
import type { QueueName } from '../../config/schema.js';
import type { MailQueues } from '../../queue/queues.js';

/** closed: send; open: wait until untilMs; half-open: one probe may send, the rest wait for it. */
export type BreakerState = { open: false; probe?: boolean } | { open: true; untilMs: number };

export class CircuitBreaker {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly queues: MailQueues,
    private readonly options: { failures: number; pauseMs: number },
  ) {}

  private key(domain: string): string {
    return `${this.prefix}:pmtp:breaker:${domain}`;
  }

  async state(domain: string, nowMs: number): Promise<BreakerState> {
    const [failures, until] = (await this.redis.hmget(this.key(domain), 'failures', 'open_until')).map(Number) as [
      number,
      number,
    ];
    if (until > nowMs) return { open: true, untilMs: until };
    if (failures < this.options.failures) return { open: false };
    // half-open: exactly one job probes the domain; the others wait to be promoted by its success
    const probe = await this.redis.set(`${this.key(domain)}:probe`, '1', 'PX', this.options.pauseMs, 'NX');
    return probe === 'OK' ? { open: false, probe: true } : { open: true, untilMs: nowMs + this.options.pauseMs };
  }

  /** Counts a failure; opens the breaker when the threshold is reached. */
  async failure(domain: string, nowMs: number): Promise<BreakerState> {
    const failures = await this.redis.hincrby(this.key(domain), 'failures', 1);
    await this.redis.expire(this.key(domain), 86_400);
    if (failures < this.options.failures) return { open: false };
    const untilMs = nowMs + this.options.pauseMs;
    await this.redis.hset(this.key(domain), 'open_until', String(untilMs));
    return { open: true, untilMs };
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
