// The job data of each mail queue, one discriminated union per queue, and the job ids derived from
// it. Jobs name their spool entry (or the PMTP message to pull), never bytes. Parsed once, where a
// worker reads a job out of Redis; jobs queued by earlier releases are read too.

import { z } from 'zod';
import type { QueueName } from '../config/schema.js';

const queueId = z.string().min(1);
const address = z.string().min(1);

/** `inbound`: an SMTP-born message to hand to its next owners. */
const inboundJob = z.object({
  queueId,
  /** route kinds already handed on, so a retry never delivers a mailbox copy twice ('native' is what releases before the `domains.mailbox` rename wrote) */
  done: z
    .array(z.enum(['mailbox', 'pmtp', 'native']))
    .transform((kinds) => kinds.map((k) => (k === 'native' ? 'mailbox' : k)))
    .optional(),
});

/** `outbound`: a spooled message to deliver over SMTP. */
const outboundJob = z.object({
  queueId,
  /** recipients still to deliver; the envelope's when absent */
  recipients: z.array(address).optional(),
});

/** `notice`, origin side: the life of one outbox entry's notices. */
const noticeJob = z.discriminatedUnion('action', [
  /** one job per outbox entry (the one recovery re-creates): one `notify` per destination domain */
  z.object({ action: z.literal('fan-out'), queueId }),
  /** send the notice to one destination; `recipients` after a redirect, `endpoint` a verified delegate */
  z.object({
    action: z.literal('notify'),
    queueId,
    domain: z.string().min(1),
    recipients: z.array(address).optional(),
    endpoint: z.string().min(1).optional(),
    redirects: z.number().int().nonnegative().optional(),
  }),
  /** ask for a deferred recipient's decision with its cookie */
  z.object({
    action: z.literal('poll'),
    queueId,
    domain: z.string().min(1),
    recipient: address,
    cookie: z.string(),
    endpoint: z.string().min(1).optional(),
    pollUntil: z.number().optional(),
    polls: z.number().int().nonnegative().optional(),
  }),
  /** tell the destination the message is withdrawn (retracted by the sender, or given up) */
  z.object({
    action: z.literal('withdraw'),
    queueId,
    domain: z.string().min(1),
    reason: z.enum(['retracted', 'given_up']),
    recipient: address.optional(),
  }),
  /**
   * the notice lifetime ended: undecided recipients expire and the stored copy goes. With `warn`
   * it first wakes at the delay warning's time, warns, and waits on for the lifetime without it
   * (one timer per copy, not two)
   */
  z.object({ action: z.literal('expire'), queueId, warn: z.literal(true).optional() }),
  /** SMTP-born mail still undecided after queues.delay_warning_s: one "delayed" DSN to its sender (queued by earlier versions; now `expire` with `warn`) */
  z.object({ action: z.literal('delay-warning'), queueId }),
]);

/** `pull`, recipient side: fetch a message we accepted, or decide a deferred one. */
const pullJob = z.discriminatedUnion('mode', [
  z.object({
    mode: z.enum(['full', 'decide']),
    origin: z.string().min(1),
    id: z.string().min(1),
    version: z.number().int().positive(),
  }),
  /** a received copy found in the spool after a crash: its record says which message it is */
  z.object({ mode: z.literal('resume'), queueId }),
]);

export type InboundJob = z.output<typeof inboundJob>;
export type OutboundJob = z.output<typeof outboundJob>;
export type NoticeJob = z.output<typeof noticeJob>;
export type PullJob = z.output<typeof pullJob>;
/** the notice jobs that talk to one destination domain */
export type DomainNoticeJob = Extract<NoticeJob, { domain: string }>;

export interface JobDataByQueue {
  readonly inbound: InboundJob;
  readonly notice: NoticeJob;
  readonly pull: PullJob;
  readonly outbound: OutboundJob;
}

export type JobData<Q extends QueueName = QueueName> = JobDataByQueue[Q];

const schemas: { readonly [Q in QueueName]: z.ZodType<JobDataByQueue[Q]> } = {
  inbound: inboundJob,
  outbound: outboundJob,
  notice: z.preprocess(legacyNoticeJob, noticeJob),
  pull: z.preprocess(legacyPullJob, pullJob),
};

/** Earlier releases queued fan-out as `{queueId}` and notify as `{queueId, domain}`, without an action. */
function legacyNoticeJob(data: unknown): unknown {
  if (typeof data !== 'object' || data === null || 'action' in data) return data;
  return { ...data, action: 'domain' in data ? 'notify' : 'fan-out' };
}

/** Earlier releases put `origin/id` into `queueId` beside origin, id and version; a bare spool id meant resume. */
function legacyPullJob(data: unknown): unknown {
  if (typeof data !== 'object' || data === null) return data;
  const { queueId: legacyRef, ...rest } = data as Record<string, unknown>;
  if ('origin' in rest) return { mode: 'full', ...rest };
  if (!('mode' in rest) && typeof legacyRef === 'string') return { mode: 'resume', queueId: legacyRef };
  return data;
}

export type JobDataResult<Q extends QueueName> =
  | { readonly ok: true; readonly data: JobDataByQueue[Q] }
  | { readonly ok: false; readonly detail: string };

/** Validates what a worker read from Redis; a job that fails this can never run. */
export function parseJobData<Q extends QueueName>(queue: Q, data: unknown): JobDataResult<Q> {
  const parsed = schemas[queue].safeParse(data);
  if (parsed.success) return { ok: true, data: parsed.data };
  const issue = parsed.error.issues[0];
  return {
    ok: false,
    detail: `${queue} job data: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}`,
  };
}

/** The spool entry a job works on; a pull or decide job has none until the message is fetched. */
export function spoolIdOf(data: JobData): string | undefined {
  return 'queueId' in data ? data.queueId : undefined;
}

/** BullMQ job ids may not contain ':'; addresses may hold anything, so hash-free escaping. */
export function jobSafe(text: string): string {
  return text.replace(/[^A-Za-z0-9._@-]/g, '_');
}

/**
 * The delayed job that ends a spooled message's life after its last stage (the PMTP outbox keeps
 * the copies peers pull this way). While it waits the entry has a live job, so recovery leaves it.
 */
export function expiryJobId(queueId: string): string {
  return `expire-${queueId}`;
}

/** The one delay warning of an outbox entry that holds SMTP-born mail. */
export function delayWarningJobId(queueId: string): string {
  return `delay-warning-${queueId}`;
}

/** One pull per (origin, message, version): the notice, a repeated notice and a decision all name it. */
export function pullJobId(origin: string, id: string, version: number): string {
  return `pull-${origin}-${id}-${version}`;
}

export function decideJobId(origin: string, id: string, version: number): string {
  return `decide-${origin}-${id}-${version}`;
}
