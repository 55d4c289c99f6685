// The four mail queues and how jobs enter and leave them. Jobs hold a reference (a spool id or
// the PMTP message to pull), never message bytes; each queue's retry schedule comes from config
// (Postfix's by default). A worker's processor gets job data already validated for its queue.

import { DelayedError, type Job, type JobsOptions, Queue, UnrecoverableError, Worker } from 'bullmq';
import { MailbridgeError } from '../codes.js';
import type { Config, QueueName } from '../config/schema.js';
import { type JobDataByQueue, parseJobData, spoolIdOf } from '../mail/jobs.js';
import type { RedisClient } from './redis-connection.js';
import { isRedisFault, redisFaultDelayMs } from './redis-faults.js';
import { queuePrefix } from './redis-keys.js';
import { attemptsWithin, type RetryPolicy, retryDelayMs } from './retry-policy.js';

export const queueNames: readonly QueueName[] = ['inbound', 'notice', 'pull', 'outbound'];

export type MailJob = Job<unknown>;

/** What a stage's processor is given: the BullMQ job (for updateData, moveToDelayed) and its parsed data. */
export type MailProcessor<Q extends QueueName> = (
  job: MailJob,
  data: JobDataByQueue[Q],
  token?: string,
) => Promise<unknown>;

export function retryPolicyFor(config: Pick<Config, 'queues'>, name: QueueName): RetryPolicy {
  return config.queues[name].retry ?? config.queues.retry;
}

/** Producers for every queue, sharing one fail-fast connection. */
export class MailQueues {
  private readonly queues: ReadonlyMap<QueueName, Queue>;

  constructor(
    private readonly config: Pick<Config, 'queues' | 'redis'> & Partial<Pick<Config, 'node'>>,
    private readonly connection: RedisClient,
  ) {
    this.queues = new Map(
      queueNames.map(
        (name) =>
          [
            name,
            new Queue(name, { connection, prefix: queuePrefix(config.redis.prefix, name, config.node?.id) }),
          ] as const,
      ),
    );
  }

  queue(name: QueueName): Queue {
    return this.queues.get(name)!;
  }

  /**
   * Adds a job; its id defaults to the spool id it names, so a repeated add is a no-op. Jobs that
   * name no spool entry (pulls) or several per entry (notices per domain) pass their own id.
   */
  async add<Q extends QueueName>(
    name: Q,
    data: JobDataByQueue[Q],
    options: { jobId?: string; delayMs?: number } = {},
  ): Promise<MailJob> {
    this.checkConnection();
    return this.queue(name).add(name, data, this.jobOptions(name, data, options));
  }

  /**
   * Adds several jobs to one queue in one round trip (a pipeline, not a transaction: Redis runs them
   * in order, so a crash may leave a prefix of them). Ids as in `add`.
   */
  async addBulk<Q extends QueueName>(
    name: Q,
    jobs: readonly { data: JobDataByQueue[Q]; jobId?: string; delayMs?: number }[],
  ): Promise<MailJob[]> {
    this.checkConnection();
    return this.queue(name).addBulk(
      jobs.map((job) => ({ name, data: job.data, opts: this.jobOptions(name, job.data, job) })),
    );
  }

  private checkConnection(): void {
    // BullMQ would wait for a dead Redis forever; an SMTP client must hear 451 instead
    if (this.connection.status !== 'ready') {
      throw new MailbridgeError('queue_unavailable', `Redis connection is ${this.connection.status}`);
    }
  }

  private jobOptions<Q extends QueueName>(
    name: Q,
    data: JobDataByQueue[Q],
    options: { jobId?: string; delayMs?: number },
  ): JobsOptions {
    const jobId = options.jobId ?? spoolIdOf(data);
    if (jobId === undefined) throw new TypeError(`a ${name} job that names no spool entry needs a job id`);
    const policy = retryPolicyFor(this.config, name);
    return {
      jobId,
      delay: options.delayMs,
      attempts: attemptsWithin(policy),
      backoff: { type: 'mailbridge' },
      // keep finished jobs a while: BullMQ's jobId dedupes only while the job exists
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    };
  }

  async hasJob(name: QueueName, jobId: string): Promise<boolean> {
    return (await this.queue(name).getJob(jobId)) !== undefined;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}

export function createMailWorker<Q extends QueueName>(
  config: Pick<Config, 'queues' | 'redis'> & Partial<Pick<Config, 'node'>>,
  name: Q,
  processor: MailProcessor<Q>,
  connection: RedisClient,
  random: () => number = Math.random,
): Worker {
  const policy = retryPolicyFor(config, name);
  const stalledMs = config.queues.stalled_job_timeout_s * 1000;
  const run = async (job: MailJob, token?: string): Promise<unknown> => {
    const parsed = parseJobData(name, job.data);
    // data no release of ours wrote can never run: fail it where `mailbridge queue` shows it
    if (!parsed.ok) throw new UnrecoverableError(parsed.detail);
    try {
      return await processor(job, parsed.data, token);
    } catch (err) {
      if (token === undefined) throw err;
      // our Redis failed, not the destination: once it answers again (this connection waits for it)
      // the job goes again in seconds, and moveToDelayed spends no attempt of the retry schedule;
      // a peer that said when to come back (Retry-After) is taken at its word, a bounded number of times
      const waitMs = isRedisFault(err) ? redisFaultDelayMs(random()) : retryAfterMs(err, job);
      if (waitMs === undefined) throw err;
      const delayed = await job.moveToDelayed(Date.now() + waitMs, token).then(
        () => true,
        () => false,
      );
      // the lock lapsed during a long outage: the stalled-job check hands the job back instead
      if (!delayed) throw err;
      throw new DelayedError();
    }
  };
  return new Worker(name, run, {
    connection,
    prefix: queuePrefix(config.redis.prefix, name, config.node?.id),
    concurrency: config.queues[name].concurrency,
    // a killed process's active jobs keep their lock until it lapses; then any worker's stalled check moves them back to wait
    lockDuration: stalledMs,
    stalledInterval: stalledMs,
    // BullMQ fails a job after one stall by default; a job held by a process killed twice is
    // still mail, and a failed job is never retried or recovered: allow many takeovers
    maxStalledCount: 100,
    settings: {
      backoffStrategy: (attemptsMade: number) => retryDelayMs(policy, attemptsMade, random()),
    },
  });
}

/** Runs that spend no attempt on a Retry-After before the retry schedule applies again: a peer stuck answering 503 is not polled forever. */
const maxRetryAfterWaits = 30;

/** Whether the worker will take this failure's Retry-After as a wait that spends no attempt. */
export function takesRetryAfter(err: unknown, job: MailJob): boolean {
  return retryAfterMs(err, job) !== undefined;
}

/** The wait a failure asks for (a PMTP peer's Retry-After, carried as `retryAfterS`), while the job has waits left. */
function retryAfterMs(err: unknown, job: MailJob): number | undefined {
  const seconds = (err as { retryAfterS?: unknown } | undefined)?.retryAfterS;
  if (typeof seconds !== 'number' || !(seconds > 0)) return undefined;
  // every run started and not counted as an attempt waited (a Redis fault, a Retry-After, a takeover)
  if ((job.attemptsStarted ?? 0) - job.attemptsMade > maxRetryAfterWaits) return undefined;
  return seconds * 1000;
}
