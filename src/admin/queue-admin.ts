// queue-admin: the operator's actions on queued mail, like Postfix's `postqueue -f` and
// `postsuper -r/-d/-h/-H`: run a deferred or failed message now, run every deferred one now, delete,
// hold, release. A message being delivered at this moment (an active, locked job) is never touched.

import type { QueueName } from '../config/schema.js';
import type { DeliveryStatusStore } from '../queue/delivery-status.js';
import { type HeldMessages, holdDelayMs } from '../queue/held-messages.js';
import { type MailQueues, queueNames } from '../queue/queues.js';
import type { Spool, SpoolEntry } from '../spool/spool.js';
import { jobsOf } from './queue-inspection.js';

export interface AdminDeps {
  readonly spool: Pick<Spool, 'read' | 'remove'>;
  readonly queues: Pick<MailQueues, 'queue'>;
  readonly status: Pick<DeliveryStatusStore, 'deleted'>;
  readonly held: Pick<HeldMessages, 'hold' | 'release' | 'heldAt' | 'all'>;
  readonly now?: () => Date;
}

export type HoldOutcome =
  | { readonly done: true; readonly jobs: readonly QueueName[] }
  | { readonly done: false; readonly reason: 'not_found' | 'already' | 'not_held' }
  | { readonly done: false; readonly reason: 'active'; readonly queue: QueueName };

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

  /** Runs a message's delayed or failed jobs now; empty when no queue knows the id. Held ones stay held. */
  async retry(queueId: string): Promise<RetryOutcome[]> {
    const outcomes: RetryOutcome[] = [];
    const held = (await this.deps.held.heldAt(queueId)) !== undefined;
    for (const { job, state } of await jobsOf(this.deps.queues, queueId)) {
      const queue = job.queueName as QueueName;
      if (held) {
        outcomes.push({ queue, state: 'held', action: 'unchanged' });
      } else if (state === 'delayed') {
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

  /** Every delayed job of every queue runs now (postqueue -f), except held ones. Failed jobs need `retry ID`. */
  async flush(): Promise<{ queue: QueueName; promoted: number }[]> {
    const held = await this.deps.held.all();
    const result: { queue: QueueName; promoted: number }[] = [];
    for (const name of queueNames) {
      const queue = this.deps.queues.queue(name);
      let promoted = 0;
      if (held.size === 0) {
        promoted = await queue.getDelayedCount();
        if (promoted > 0) await queue.promoteJobs();
      } else {
        for (const job of await queue.getDelayed(0, -1)) {
          if (!job?.id || held.has(job.id)) continue;
          // promote throws when the job left the delayed set since we listed it: nothing to do then
          if (
            await job.promote().then(
              () => true,
              () => false,
            )
          )
            promoted++;
        }
      }
      result.push({ queue: name, promoted });
    }
    return result;
  }

  /**
   * Puts a message on hold (postsuper -h): marked held first, then each job is parked as a delayed
   * job years ahead, under the same id and data, so nothing runs it and recovery sees a live job.
   * Its retry count starts afresh on release; its lifetime still counts from arrival.
   */
  async hold(queueId: string): Promise<HoldOutcome> {
    const jobs = await jobsOf(this.deps.queues, queueId);
    if (jobs.length === 0) return { done: false, reason: 'not_found' };
    const active = jobs.find((j) => j.state === 'active');
    if (active) return { done: false, reason: 'active', queue: active.job.queueName as QueueName };
    if ((await this.deps.held.heldAt(queueId)) !== undefined) return { done: false, reason: 'already' };
    await this.deps.held.hold(queueId, (this.deps.now ?? (() => new Date()))());
    const parked: QueueName[] = [];
    for (const { job } of jobs) {
      const name = job.queueName as QueueName;
      // throws if a worker took the job since we looked; the mark stays and release undoes it
      await job.remove();
      await this.deps.queues
        .queue(name)
        .add(job.name, job.data, { ...job.opts, jobId: job.id, delay: holdDelayMs, timestamp: undefined });
      parked.push(name);
    }
    return { done: true, jobs: parked };
  }

  /** Releases a held message (postsuper -H): its parked jobs run now. */
  async release(queueId: string): Promise<HoldOutcome> {
    if (!(await this.deps.held.release(queueId))) return { done: false, reason: 'not_held' };
    const released: QueueName[] = [];
    for (const { job, state } of await jobsOf(this.deps.queues, queueId)) {
      if (state === 'delayed') await job.promote();
      released.push(job.queueName as QueueName);
    }
    return { done: true, jobs: released };
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
    await this.deps.held.release(queueId);
    const recipients = entry?.meta.envelope.rcptTo ?? [];
    await this.deps.status.deleted(queueId, recipients, (this.deps.now ?? (() => new Date()))());
    return { deleted: true, jobs: removed, spooled: entry !== undefined, recipients: recipients.length };
  }
}
