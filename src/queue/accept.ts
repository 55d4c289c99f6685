// The only writer of spool plus queue, like Postfix's cleanup: a message is accepted when its
// bytes are fsynced in the spool AND its job is in Redis. Listeners call this; they never touch BullMQ.

import { MailbridgeError } from '../codes.js';
import type { QueueName } from '../config/schema.js';
import type { Logger } from '../log.js';
import { expiryJobId } from '../mail/jobs.js';
import { entryJob, type SpoolRecordInput } from '../mail/spool-records.js';
import type { Spool, SpoolDraft, SpoolEntry } from '../spool/spool.js';
import { type MailQueues, queueNames } from './queues.js';

/** A failed spool write as the client hears it: a full disk is 452 4.3.1 (RFC 3463), anything else 451 4.3.0. */
export function spoolWriteError(err: unknown): MailbridgeError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return new MailbridgeError(
    code === 'ENOSPC' || code === 'EDQUOT' ? 'insufficient_storage' : 'spool_unavailable',
    undefined,
    { cause: err },
  );
}

/** Queues a recorded entry's jobs in place of the job its record names (the PMTP outbox's notices). */
export type QueueRecorded = (entry: SpoolEntry) => Promise<void>;

export class MessageAcceptor {
  constructor(
    private readonly spool: Spool,
    private readonly queues: MailQueues,
    private readonly log: Logger,
  ) {}

  /**
   * Resolves only when the promise of a 250 can be kept; otherwise throws a transient MailbridgeError.
   * With `queueRecorded`, for an entry its caller recorded elsewhere before the commit, that queues
   * the jobs instead, and a failure to queue them keeps the entry the record names: the caller's
   * retry finds it recorded and queues them again, or the reconciler gives it its own job back.
   */
  async accept(draft: SpoolDraft, meta: SpoolRecordInput, queueRecorded?: QueueRecorded): Promise<SpoolEntry> {
    let entry: SpoolEntry;
    try {
      entry = await draft.commit(meta);
    } catch (err) {
      await draft.discard().catch(() => undefined);
      throw spoolWriteError(err);
    }
    try {
      if (queueRecorded) await queueRecorded(entry);
      else {
        const job = entryJob(entry.meta);
        await this.queues.add(job.queue, job.data);
      }
    } catch (err) {
      // the client will hear 451 and resend, so this copy must not be delivered too
      if (!queueRecorded)
        await this.spool.remove(entry.queueId).catch((removeErr: unknown) => {
          this.log.error(
            { queueId: entry.queueId, err: removeErr },
            'could not remove spool entry after queue failure',
          );
        });
      throw new MailbridgeError('queue_unavailable', undefined, { cause: err });
    }
    this.log.info(
      {
        queueId: entry.queueId,
        size: entry.size,
        from: meta.envelope.mailFrom,
        nrcpt: meta.envelope.rcptTo.length,
        queue: meta.queue,
      },
      'accepted',
    );
    return entry;
  }

  /**
   * After a crash: every spooled entry with no live job in any queue gets its job back.
   * Stages add the next stage's job before finishing their own, so a live job always exists.
   */
  async recover(): Promise<{ entries: number; requeued: string[]; unreadable: string[] }> {
    const { entries, unreadable } = await this.spool.recover();
    for (const bad of unreadable)
      this.log.error({ queueId: bad.queueId, err: bad.detail }, 'spool entry unreadable; left for an operator');
    const requeued: string[] = [];
    for (const entry of entries) if (await this.requeueIfOrphaned(entry)) requeued.push(entry.queueId);
    return { entries: entries.length, requeued, unreadable: unreadable.map((u) => u.queueId) };
  }

  /**
   * While running, like Postfix's qmgr scanning its queue folder: the spool is the truth, so an entry
   * whose job was lost (Redis restored from an older AOF, a job removed by hand, one that failed) gets
   * it back. Entries younger than `olderThanMs` are skipped: their writer may be adding the job now.
   */
  async reconcile(olderThanMs: number, now: number = Date.now()): Promise<{ entries: number; requeued: string[] }> {
    const requeued: string[] = [];
    const ids = await this.spool.list();
    for (const queueId of ids) {
      const entry = await this.spool.read(queueId).catch((err: NodeJS.ErrnoException) => {
        // finished and removed since the listing, or unreadable (recovery at start reports those)
        if (err.code !== 'ENOENT')
          this.log.error({ queueId, err: err.message }, 'spool entry unreadable; left for an operator');
        return undefined;
      });
      if (!entry || now - Date.parse(entry.meta.createdAt) < olderThanMs) continue;
      if (await this.requeueIfOrphaned(entry)) requeued.push(queueId);
    }
    return { entries: ids.length, requeued };
  }

  /** Gives `entry` its job back unless one is live; a finished job of the same id is removed first, or the add would be a no-op. */
  private async requeueIfOrphaned(entry: SpoolEntry): Promise<boolean> {
    if (await this.hasLiveJob(entry, entry.meta.queue)) return false;
    const job = entryJob(entry.meta);
    const finished = await this.queues.queue(job.queue).getJob(entry.queueId);
    const was = finished ? await finished.getState() : undefined;
    if (finished) await finished.remove();
    await this.queues.add(job.queue, job.data);
    this.log.warn(
      { queueId: entry.queueId, queue: job.queue, previous: was ?? 'none' },
      'requeued spool entry that had no live job',
    );
    return true;
  }

  /**
   * A job named after the queue id may sit in any stage's queue; an entry's own queue may also
   * hold its expiry job or the job its record names (a PMTP pull), so only that queue is asked for
   * them. A completed or failed job is not live: it will never touch the entry again.
   */
  private async hasLiveJob(entry: SpoolEntry, queue: QueueName): Promise<boolean> {
    const owner = entry.meta.kind === 'pmtp-received' ? entry.meta.jobId : undefined;
    const ownQueueIds = [expiryJobId(entry.queueId), ...(owner === undefined ? [] : [owner])];
    for (const name of queueNames) {
      for (const id of name === queue ? [entry.queueId, ...ownQueueIds] : [entry.queueId]) {
        const job = await this.queues.queue(name).getJob(id);
        const state = job ? await job.getState() : 'unknown';
        if (state !== 'completed' && state !== 'failed' && state !== 'unknown') return true;
      }
    }
    return false;
  }
}
