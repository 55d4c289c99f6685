// Notices and their answers: a notice tells a recipient domain that a message waits for some of its
// recipients; a batch carries many notices from one origin to one destination; the answer gives a
// disposition per recipient. Idempotent by (id, version): resending yields the current dispositions.

import { z } from 'zod';
import type { StatusCode } from '../../codes.js';
import { parseAddress } from './address.js';
import { errorSchema, fetchUrl } from './endpoints.js';
import { powChallengeSchema } from './proof-of-work.js';
import { describeIssue, fail, ok, type Result } from './protocol-error.js';
import { address, domain, endpoint, messageId, positiveInt, sha256Digest, unixTime } from './protocol-fields.js';
import { critField, extensionProblem, PMTP_VERSION } from './versioned-object.js';

export const MAX_RECIPIENTS_PER_NOTICE = 1000;
/** Hard ceiling; each server announces its own max_batch (default 50) in its server info. */
export const MAX_BATCH = 1000;

export const noticeSchema = z.object({
  id: messageId,
  version: positiveInt,
  /** Sum of the part lengths, in octets. */
  size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  manifest_digest: sha256Digest,
  sender: address,
  recipients: z.array(address).min(1).max(MAX_RECIPIENTS_PER_NOTICE),
  /** The origin serves the message until then; recipients must pull before. */
  expires: unixTime,
  fetch: z.string().max(2048),
  /** Sender tokens, each naming the recipient it is for. */
  tokens: z.array(z.string().max(4096)).max(100).optional(),
  /** Solved challenges, each naming its recipient. */
  pow: z
    .array(z.object({ challenge: powChallengeSchema, solution: z.string().max(64) }))
    .max(100)
    .optional(),
});
export type Notice = z.infer<typeof noticeSchema>;

export const noticeBatchSchema = z.object({
  v: z.literal(PMTP_VERSION).optional(),
  crit: critField.optional(),
  origin: domain,
  destination: domain,
  notices: z.array(noticeSchema).min(1).max(MAX_BATCH),
});
export type NoticeBatch = z.infer<typeof noticeBatchSchema>;

export type BatchCode = Extract<
  StatusCode,
  | 'batch_invalid'
  | 'batch_too_large'
  | 'wrong_origin'
  | 'wrong_destination'
  | 'version_unsupported'
  | 'critical_member_unknown'
>;

export interface BatchContext {
  /** The domain that signed the request (verified), which must be the batch origin. */
  signedBy: string;
  /** This server's domain for the request, which must be the batch destination. */
  domain: string;
  maxBatch: number;
  /** Most recipients all notices of the batch may name together. */
  maxBatchRecipients: number;
}

/** Whole-batch checks; a failure here rejects the request (400/413/403). */
export function parseNoticeBatch(body: unknown, context: BatchContext): Result<NoticeBatch, BatchCode> {
  // counted before the schema, so a batch past the limit is answered 413 however long it is
  const listed = (body as { notices?: unknown } | null | undefined)?.notices;
  if (Array.isArray(listed) && listed.length > context.maxBatch)
    return fail('batch_too_large', `more than ${context.maxBatch} notices`);
  const problem = extensionProblem(body, Object.keys(noticeBatchSchema.shape));
  if (problem) return fail(problem.kind === 'malformed' ? 'batch_invalid' : problem.kind, problem.detail);
  const parsed = noticeBatchSchema.safeParse(body);
  if (!parsed.success) return fail('batch_invalid', describeIssue(parsed.error));
  const batch = parsed.data;
  const recipients = batch.notices.reduce((n, notice) => n + notice.recipients.length, 0);
  if (recipients > context.maxBatchRecipients)
    return fail('batch_too_large', `${recipients} recipients, more than ${context.maxBatchRecipients} in one batch`);
  if (batch.origin !== context.signedBy) return fail('wrong_origin', `batch origin ${batch.origin} did not sign it`);
  if (batch.destination !== context.domain) return fail('wrong_destination', `batch is for ${batch.destination}`);
  const keys = new Set(batch.notices.map((n) => `${n.id} ${n.version}`));
  if (keys.size !== batch.notices.length) return fail('batch_invalid', 'a notice (id, version) appears twice');
  return ok(batch);
}

export type NoticeCode = Extract<
  StatusCode,
  'recipient_wrong_domain' | 'duplicate_recipient' | 'notice_expired' | 'notice_lifetime_too_long' | 'fetch_url_invalid'
>;

export interface NoticeContext {
  destination: string;
  now: number;
  /** The latest `expires` accepted, as seconds from now: an origin may not set how long we keep state. */
  maxLifetimeS: number;
  /** The origin's endpoint as discovered (DNS or static config), never as the notice claims. */
  originEndpoint: string;
}

/** Per-notice checks; a failure answers that notice with an error and leaves the rest of the batch. */
export function checkNotice(notice: Notice, context: NoticeContext): Result<Notice, NoticeCode> {
  const locals = notice.recipients.map((r) => parseAddress(r));
  if (locals.some((a) => a?.domain !== context.destination)) {
    return fail('recipient_wrong_domain', `every recipient must be in ${context.destination}`);
  }
  if (new Set(locals.map((a) => a?.local)).size !== locals.length) {
    return fail('duplicate_recipient', 'recipient listed twice');
  }
  if (context.now > notice.expires) return fail('notice_expired', `expired at ${notice.expires}`);
  if (notice.expires - context.now > context.maxLifetimeS)
    return fail('notice_lifetime_too_long', `expires more than ${context.maxLifetimeS} s from now`);
  if (notice.fetch !== fetchUrl(context.originEndpoint, notice.id)) {
    return fail('fetch_url_invalid', 'fetch URL is not the origin endpoint message path');
  }
  return ok(notice);
}

const cookie = z.string().regex(/^[A-Za-z0-9_-]{16,128}$/, 'not a cookie');

export const dispositionSchema = z.discriminatedUnion('disposition', [
  z.object({ disposition: z.literal('accepted') }),
  z
    .object({ disposition: z.literal('deferred'), cookie, min_poll_s: positiveInt, max_poll_s: positiveInt })
    .refine((d) => d.min_poll_s <= d.max_poll_s, 'min_poll_s exceeds max_poll_s'),
  z.object({ disposition: z.literal('challenge'), challenge: powChallengeSchema }),
  // the proof is checked per recipient (verifyDelegation, §13.5): a bad one refuses that recipient only
  z.object({ disposition: z.literal('redirect'), endpoint, delegation: z.record(z.string(), z.unknown()) }),
  z.object({ disposition: z.literal('rejected'), code: errorSchema.shape.code, text: z.string().max(1000) }),
]);
export type Disposition = z.infer<typeof dispositionSchema>;

export const recipientDispositionSchema = z.intersection(z.object({ recipient: address }), dispositionSchema);
export type RecipientDisposition = z.infer<typeof recipientDispositionSchema>;

const noticeKey = { id: messageId, version: positiveInt };
export const noticeResultSchema = z.union([
  z.object({ ...noticeKey, recipients: z.array(recipientDispositionSchema).min(1) }),
  z.object({ ...noticeKey, error: errorSchema }),
]);
/** 200 answer to POST /pmtp/v1/notices: one result per notice, in batch order. */
export const batchResponseSchema = z.object({
  v: z.literal(PMTP_VERSION).optional(),
  results: z.array(noticeResultSchema),
});
export type NoticeResult = z.infer<typeof noticeResultSchema>;
export type BatchResponse = z.infer<typeof batchResponseSchema>;

/** 200 answer to GET /pmtp/v1/status/{cookie}: the recipient's current disposition. */
export const statusResponseSchema = z.intersection(
  z.object({ v: z.literal(PMTP_VERSION).optional(), ...noticeKey, recipient: address }),
  dispositionSchema,
);
export type StatusResponse = z.infer<typeof statusResponseSchema>;
