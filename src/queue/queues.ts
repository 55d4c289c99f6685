// The four mail queues and how jobs enter and leave them. Jobs hold a reference (the queue id),
// never message bytes; each queue's retry schedule comes from config (Postfix's by default).

import { Queue, Worker, type Job, type Processor } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config, QueueName } from '../config/schema.js';
import { attemptsWithin, retryDelayMs, type RetryPolicy } from './retry-policy.js';

export const queueNames: readonly QueueName[] = ['inbound', 'notice', 'pull', 'outbound'];

/** Every job names its spool entry; stages may add routing facts but never bytes. */
export interface MailJobData {
  readonly queueId: string;
  readonly [fact: string]: unknown;
}

export type MailJob = Job<MailJobData>;

/**
 * The delayed job that ends a spooled message's life after its last stage (the PMTP outbox keeps
 * the copies peers pull this way). While it waits the entry has a live job, so recovery leaves it.
 */
export function expiryJobId(queueId: string): string {
  return `expire-${queueId}`;
}

export function retryPolicyFor(config: Pick<Config, 'queues'>, name: QueueName): RetryPolicy {
  return config.queues[name].retry ?? config.queues.retry;
}

/** Producers for every queue, sharing one fail-fast connection. */
export class MailQueues {
  private readonly queues: ReadonlyMap<QueueName, Queue<MailJobData>>;

  constructor(
    private readonly config: Pick<Config, 'queues' | 'redis'>,
    private readonly connection: Redis,
  ) {
    this.queues = new Map(
      queueNames.map((name) => [name, new Queue<MailJobData>(name, { connection, prefix: config.redis.prefix })] as const),
    );
  }

  queue(name: QueueName): Queue<MailJobData> {
    return this.queues.get(name)!;
  }

  /** Adds a job whose id is derived from the queue id, so a repeated add is a no-op. */
  async add(name: QueueName, data: MailJobData, options: { jobId?: string; delayMs?: number } = {}): Promise<MailJob> {
    // BullMQ would wait for a dead Redis forever; an SMTP client must hear 451 instead
    if (this.connection.status !== 'ready') throw new Error(`Redis connection is ${this.connection.status}`);
    const policy = retryPolicyFor(this.config, name);
    return this.queue(name).add(name, data, {
      jobId: options.jobId ?? data.queueId,
      delay: options.delayMs,
      attempts: attemptsWithin(policy),
      backoff: { type: 'mailbridge' },
      // keep finished jobs a while: BullMQ's jobId dedupes only while the job exists
      removeOnComplete: { age: 24 * 3600, count: 10_000 },
      removeOnFail: { age: 7 * 24 * 3600 },
    });
  }

  async hasJob(name: QueueName, jobId: string): Promise<boolean> {
    return (await this.queue(name).getJob(jobId)) !== undefined;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
  }
}

export function createMailWorker(
  config: Pick<Config, 'queues' | 'redis'>,
  name: QueueName,
  processor: Processor<MailJobData>,
  connection: Redis,
  random: () => number = Math.random,
): Worker<MailJobData> {
  const policy = retryPolicyFor(config, name);
  const stalledMs = config.queues.stalled_job_timeout_s * 1000;
  return new Worker<MailJobData>(name, processor, {
    connection,
    prefix: config.redis.prefix,
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
