// The messages that end a recipient's wait: acks (recipient side → origin, after a pull: delivered or
// rejected per recipient) and withdrawals (origin → recipient side: retracted by the sender, or given
// up). Both are idempotent; a withdrawal after the pull is answered `too_late`.
import { z } from 'zod';
import { errorSchema } from './endpoints.js';
import { fail, ok, type Result } from './protocol-error.js';
import { address, domain, messageId, positiveInt, sha256Digest } from './protocol-fields.js';
import { critField, extensionProblem, PMTP_VERSION } from './versioned-object.js';

export const ACK_RESULTS = ['delivered', 'rejected'] as const;

export const ackBatchSchema = z.object({
  v: z.literal(PMTP_VERSION).optional(),
  crit: critField.optional(),
  /** The acking (recipient) domain; it signed the request. */
  origin: domain,
  /** The message's origin domain. */
  destination: domain,
  acks: z
    .array(
      z.object({
        id: messageId,
        version: positiveInt,
        manifest_digest: sha256Digest,
        recipients: z
          .array(
            z.object({
              recipient: address,
              result: z.enum(ACK_RESULTS),
              code: errorSchema.shape.code.optional(),
              text: z.string().max(1000).optional(),
            }),
          )
          .min(1),
      }),
    )
    .min(1)
    .max(1000),
});
export type AckBatch = z.infer<typeof ackBatchSchema>;

/** An ack batch as received: version and critical members first, then the schema. */
export function parseAckBatch(
  body: unknown,
): Result<AckBatch, 'malformed_request' | 'version_unsupported' | 'critical_member_unknown'> {
  const problem = extensionProblem(body, Object.keys(ackBatchSchema.shape));
  if (problem) return fail(problem.kind === 'malformed' ? 'malformed_request' : problem.kind, problem.detail);
  const parsed = ackBatchSchema.safeParse(body);
  return parsed.success ? ok(parsed.data) : fail('malformed_request', 'not an ack batch');
}

/** 200 answer to POST /pmtp/v1/acks. `unknown` = no such message was notified to the acking domain. */
export const ackResponseSchema = z.object({
  v: z.literal(PMTP_VERSION).optional(),
  results: z.array(z.object({ id: messageId, version: positiveInt, status: z.enum(['recorded', 'unknown']) })),
});
export type AckResponse = z.infer<typeof ackResponseSchema>;

export const WITHDRAW_REASONS = ['retracted', 'given_up'] as const;

/** Query of DELETE /pmtp/v1/notices/{id}; without `recipient` it covers every recipient notified. */
export const withdrawQuerySchema = z.object({
  version: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  reason: z.enum(WITHDRAW_REASONS),
  recipient: address.optional(),
});
export type WithdrawQuery = z.infer<typeof withdrawQuerySchema>;

/** 200 answer to a withdrawal, per recipient. */
export const withdrawResponseSchema = z.object({
  v: z.literal(PMTP_VERSION).optional(),
  id: messageId,
  version: positiveInt,
  recipients: z.array(z.object({ recipient: address, outcome: z.enum(['withdrawn', 'too_late']) })),
});
export type WithdrawResponse = z.infer<typeof withdrawResponseSchema>;
