// queue-admin: the operator's actions on queued mail, like Postfix's `postqueue -f` and
// `postsuper -r/-d`: run a deferred or failed message now, run every deferred one now, delete one.
// A message being delivered at this moment (an active, locked job) is never deleted under a worker.

import type { QueueName } from '../config/schema.js';
import type { DeliveryStatusStore } from '../queue/delivery-status.js';
import { type MailQueues, queueNames } from '../queue/queues.js';
import type { Spool, SpoolEntry } from '../spool/spool.js';
import { jobsOf } from './queue-inspection.js';

export interface AdminDeps {
  readonly spool: Pick<Spool, 'read' | 'remove'>;
  readonly queues: Pick<MailQueues, 'queue'>;
  readonly status: Pick<DeliveryStatusStore, 'deleted'>;
  readonly now?: () => Date;
}

/** What happened to one job: `promoted` (was delayed), `retried` (was failed), else left as it was. */
export interface RetryOutcome {
  readonly queue: QueueName;
  readonly state: string;
  readonly action: 'promoted' | 'retried' | 'unchanged';
}

export type DeleteOutcome =
  | {
      readonly deleted: true;
      readonly jobs: readonly QueueName[];
      readonly spooled: boolean;
      readonly recipients: number;
    }
  | { readonly deleted: false; readonly reason: 'not_found' }
  /** a worker holds the job; deleting now would race its delivery */
  | { readonly deleted: false; readonly reason: 'active'; readonly queue: QueueName };

export class QueueAdmin {
  constructor(private readonly deps: AdminDeps) {}

  /** Runs a message's delayed or failed jobs now; empty when no queue knows the id. */
  async retry(queueId: string): Promise<RetryOutcome[]> {
    const outcomes: RetryOutcome[] = [];
    for (const { job, state } of await jobsOf(this.deps.queues, queueId)) {
      const queue = job.queueName as QueueName;
      if (state === 'delayed') {
        await job.promote();
        outcomes.push({ queue, state, action: 'promoted' });
      } else if (state === 'failed') {
        // a fresh retry schedule, as postsuper -r gives; lifetime still counts from arrival
        await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
        outcomes.push({ queue, state, action: 'retried' });
      } else {
        outcomes.push({ queue, state, action: 'unchanged' });
      }
    }
    return outcomes;
  }

  /** Every delayed job of every queue runs now (postqueue -f). Failed jobs need `retry ID`. */
  async flush(): Promise<{ queue: QueueName; promoted: number }[]> {
    const result: { queue: QueueName; promoted: number }[] = [];
    for (const name of queueNames) {
      const queue = this.deps.queues.queue(name);
      const promoted = await queue.getDelayedCount();
      if (promoted > 0) await queue.promoteJobs();
      result.push({ queue: name, promoted });
    }
    return result;
  }

  /**
   * Deletes a message (postsuper -d): spool entry first, then its jobs, then recipients not yet
   * final are recorded `deleted`. Spool first because recovery requeues a spooled entry that has
   * no job, while a job without its entry finishes with nothing to do.
   */
  async delete(queueId: string): Promise<DeleteOutcome> {
    const jobs = await jobsOf(this.deps.queues, queueId);
    const active = jobs.find((j) => j.state === 'active');
    if (active) return { deleted: false, reason: 'active', queue: active.job.queueName as QueueName };
    const entry = await this.deps.spool.read(queueId).catch((err: NodeJS.ErrnoException): SpoolEntry | undefined => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (!entry && jobs.length === 0) return { deleted: false, reason: 'not_found' };
    if (entry) await this.deps.spool.remove(queueId);
    const removed: QueueName[] = [];
    for (const { job } of jobs) {
      // throws if a worker took the job since we looked; that worker may still hold the bytes it read
      await job.remove();
      removed.push(job.queueName as QueueName);
    }
    const recipients = entry?.meta.envelope.rcptTo ?? [];
    await this.deps.status.deleted(queueId, recipients, (this.deps.now ?? (() => new Date()))());
    return { deleted: true, jobs: removed, spooled: entry !== undefined, recipients: recipients.length };
  }
}
