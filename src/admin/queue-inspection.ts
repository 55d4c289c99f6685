// queue-inspection: what `mailbridge queue list|show` reports, gathered read-only from the spool,
// the four BullMQ queues and the delivery-status store (like Postfix's showq). The CLI only formats.
// Safe beside a running gateway: it never takes a job's lock and never cleans the spool.

import type { QueueName } from '../config/schema.js';
import { parseJobData, spoolIdOf } from '../mail/jobs.js';
import type { SpoolRecord } from '../mail/spool-records.js';
import type { DeliveryStatusStore, RecipientState } from '../queue/delivery-status.js';
import type { HeldMessages } from '../queue/held-messages.js';
import { type MailJob, type MailQueues, queueNames } from '../queue/queues.js';
import type { Spool, SpoolEntry } from '../spool/spool.js';

/** The BullMQ states a message can wait in; completed jobs are history, not queue. */
export type JobState = 'active' | 'waiting' | 'prioritized' | 'delayed' | 'failed';
const liveStates: readonly JobState[] = ['active', 'waiting', 'prioritized', 'delayed', 'failed'];

export interface JobView {
  readonly queue: QueueName;
  readonly state: JobState;
  readonly attemptsMade: number;
  readonly maxAttempts: number;
  /** when a delayed job runs next (ISO time) */
  readonly nextAttemptAt?: string;
  readonly failedReason?: string;
}

export interface RecipientView {
  readonly address: string;
  readonly state: RecipientState;
  readonly attempts: number;
  /** the last reply, verbatim */
  readonly reply?: string;
  readonly lastAttemptAt?: string;
}

export interface QueuedMessage {
  readonly queueId: string;
  /** false for a job whose spool entry is gone (it will finish with nothing to do) */
  readonly spooled: boolean;
  readonly size?: number;
  readonly arrivalTime?: string;
  readonly kind?: string;
  readonly sender?: string;
  readonly recipients: readonly RecipientView[];
  readonly jobs: readonly JobView[];
  /** when an operator put it on hold (ISO time); its jobs then wait, parked, for `queue release` */
  readonly heldAt?: string;
}

export interface MessageDetail extends QueuedMessage {
  readonly meta?: SpoolRecord;
  /** the first header lines, as stored */
  readonly headerLines: readonly string[];
}

export interface InspectionDeps {
  readonly spool: Pick<Spool, 'list' | 'read' | 'openBody'>;
  readonly queues: Pick<MailQueues, 'queue'>;
  readonly status: Pick<DeliveryStatusStore, 'get'>;
  readonly held: Pick<HeldMessages, 'all' | 'heldAt'>;
}

const headerPeekBytes = 16 * 1024;
const maxHeaderLines = 20;

export class QueueInspector {
  constructor(private readonly deps: InspectionDeps) {}

  /** Every spooled message, oldest first, then jobs whose spool entry is gone. */
  async list(): Promise<QueuedMessage[]> {
    const jobs = await this.liveJobs();
    const held = await this.deps.held.all();
    const messages: QueuedMessage[] = [];
    const seen = new Set<string>();
    for (const queueId of await this.deps.spool.list()) {
      const entry = await this.readEntry(queueId);
      if (!entry) continue; // finished between listing and reading
      seen.add(queueId);
      messages.push(await this.describe(queueId, entry, jobs.get(queueId) ?? [], held.get(queueId)));
    }
    for (const [queueId, orphanJobs] of jobs) {
      if (!seen.has(queueId)) messages.push(await this.describe(queueId, undefined, orphanJobs, held.get(queueId)));
    }
    return messages;
  }

  /** One message with its meta and first header lines; undefined when neither spool nor queue knows it. */
  async show(queueId: string): Promise<MessageDetail | undefined> {
    const entry = await this.readEntry(queueId);
    const jobs = await jobsOf(this.deps.queues, queueId);
    if (!entry && jobs.length === 0) return undefined;
    const views = await Promise.all(jobs.map(({ job, state }) => this.jobView(job, state)));
    const message = await this.describe(
      queueId,
      entry,
      views.filter((v): v is JobView => v !== undefined),
      await this.deps.held.heldAt(queueId),
    );
    return { ...message, meta: entry?.meta, headerLines: entry ? await this.headerLines(queueId) : [] };
  }

  private async describe(
    queueId: string,
    entry: SpoolEntry | undefined,
    jobs: readonly JobView[],
    heldAt: string | undefined,
  ): Promise<QueuedMessage> {
    const statuses = new Map((await this.deps.status.get(queueId)).map((s) => [s.recipient, s]));
    const addresses = [...new Set([...(entry?.meta.envelope.rcptTo ?? []), ...statuses.keys()])];
    const recipients = addresses.map((address): RecipientView => {
      const s = statuses.get(address);
      // no status yet: the inbound stage has not handed the recipient on
      return s
        ? { address, state: s.state, attempts: s.attempts, reply: s.reply, lastAttemptAt: s.lastAttemptAt }
        : { address, state: 'queued', attempts: 0 };
    });
    return {
      queueId,
      spooled: entry !== undefined,
      size: entry?.size,
      arrivalTime: entry?.meta.createdAt,
      kind: entry?.meta.kind,
      sender: entry?.meta.envelope.mailFrom,
      recipients,
      jobs,
      heldAt,
    };
  }

  /** Live jobs of every queue grouped by queue id; one pass per queue and state. */
  private async liveJobs(): Promise<Map<string, JobView[]>> {
    const byId = new Map<string, JobView[]>();
    for (const name of queueNames) {
      const queue = this.deps.queues.queue(name);
      const delayedAt = await delayedTimes(this.deps.queues, name);
      const seen = new Set<string>();
      for (const state of liveStates) {
        for (const job of await queue.getJobs([state], 0, -1)) {
          // a job moving between states while we read may show up twice; keep the first
          if (!job?.id || seen.has(job.id)) continue;
          seen.add(job.id);
          const queueId = messageRef(name, job);
          byId.set(queueId, [...(byId.get(queueId) ?? []), toView(name, state, job, delayedAt.get(job.id))]);
        }
      }
    }
    return byId;
  }

  private async jobView(job: MailJob, state: string): Promise<JobView | undefined> {
    if (!isLive(state)) return undefined;
    const queue = job.queueName as QueueName;
    const at = state === 'delayed' ? (await delayedTimes(this.deps.queues, queue)).get(job.id!) : undefined;
    return toView(queue, state, job, at);
  }

  private async readEntry(queueId: string): Promise<SpoolEntry | undefined> {
    return this.deps.spool.read(queueId).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
  }

  private async headerLines(queueId: string): Promise<string[]> {
    const { stream } = await this.deps.spool.openBody(queueId, { start: 0, end: headerPeekBytes - 1 });
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    const lines = Buffer.concat(chunks).toString('utf8').split(/\r?\n/);
    const end = lines.indexOf('');
    return lines.slice(0, end === -1 ? maxHeaderLines : Math.min(end, maxHeaderLines));
  }
}

/** Every job of one message in any queue (job id = queue id), with its current state. */
export async function jobsOf(
  queues: Pick<MailQueues, 'queue'>,
  queueId: string,
): Promise<{ job: MailJob; state: string }[]> {
  const found: { job: MailJob; state: string }[] = [];
  for (const name of queueNames) {
    const job = await queues.queue(name).getJob(queueId);
    if (job) found.push({ job, state: await job.getState() });
  }
  return found;
}

function isLive(state: string): state is JobState {
  return (liveStates as readonly string[]).includes(state);
}

function toView(queue: QueueName, state: JobState, job: MailJob, nextAttemptMs: number | undefined): JobView {
  return {
    queue,
    state,
    attemptsMade: job.attemptsMade,
    maxAttempts: job.opts.attempts ?? 1,
    nextAttemptAt: nextAttemptMs === undefined ? undefined : new Date(nextAttemptMs).toISOString(),
    failedReason: state === 'failed' || state === 'delayed' ? job.failedReason || undefined : undefined,
  };
}

/**
 * When each delayed job runs: BullMQ keeps it only as the delayed set's score (ms × 0x1000 plus
 * an ordering counter); `job.delay` alone does not say from when it counts.
 */
async function delayedTimes(queues: Pick<MailQueues, 'queue'>, name: QueueName): Promise<Map<string, number>> {
  const queue = queues.queue(name);
  const client = await queue.client;
  const flat = await client.zrange(queue.keys.delayed!, 0, -1, { WITHSCORES: true });
  const times = new Map<string, number>();
  for (let i = 0; i + 1 < flat.length; i += 2) times.set(flat[i]!, Math.floor(Number(flat[i + 1]) / 0x1000));
  return times;
}

/** What a job is listed under: its spool id, else the PMTP message it pulls, else its own id (data no release wrote). */
function messageRef(queue: QueueName, job: MailJob): string {
  const parsed = parseJobData(queue, job.data);
  if (!parsed.ok) return job.id ?? '';
  const data = parsed.data;
  return spoolIdOf(data) ?? ('origin' in data ? `${data.origin}/${data.id}` : (job.id ?? ''));
}
