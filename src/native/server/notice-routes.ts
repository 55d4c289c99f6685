// Recipient-side endpoints: POST /pmtp/v1/notices (a batch → per-recipient dispositions, pulls
// queued for accepted recipients), GET /pmtp/v1/status/{cookie} (a deferred recipient's current
// disposition, only for the origin it was given to) and DELETE /pmtp/v1/notices/{id} (withdraw).
import type { FastifyInstance } from 'fastify';
import type { FirstContactOutcome } from '../../observability/traffic-ledger.js';
import { handleNotice, type NoticeDecisionDeps } from '../decision/notice-decision.js';
import { queuePull } from '../decision/pull-jobs.js';
import { type WithdrawalDeps, withdrawNotice } from '../decision/withdrawal.js';
import type { PmtpContext } from '../pmtp-context.js';
import { type WithdrawResponse, withdrawQuerySchema } from '../protocol/ack.js';
import { PATHS } from '../protocol/endpoints.js';
import { type Disposition, type NoticeResult, parseNoticeBatch } from '../protocol/notice.js';
import { type ReplyDeps, sendError, sendSigned } from './replies.js';
import { parseJsonBody, rawBody } from './request-auth.js';

/** The parts of the PMTP context this file uses. */
export type NoticeRouteDeps = Pick<
  PmtpContext,
  'config' | 'directory' | 'domain' | 'inbound' | 'log' | 'metrics' | 'nowMs' | 'queues' | 'traffic'
> &
  NoticeDecisionDeps &
  WithdrawalDeps &
  ReplyDeps;

const NOTICE_PARALLELISM = 32;

async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      await work(items[index]!, index);
    }
  });
  await Promise.all(lanes);
}

const contactOutcome = {
  accepted: 'accepted',
  deferred: 'deferred',
  challenge: 'challenged',
  redirect: 'redirected',
  rejected: 'rejected',
} as const satisfies Record<Disposition['disposition'], FirstContactOutcome>;

/**
 * Our answer per recipient: one log line with its reason (as Postfix logs each RCPT decision), the
 * metrics, and `mailbridge report`'s ledger, off the reply's path: a lost count loses no mail.
 */
function recordOutcomes(rt: NoticeRouteDeps, origin: string, results: readonly NoticeResult[]): void {
  const at = new Date(rt.nowMs());
  for (const result of results) {
    if (!('recipients' in result)) {
      rt.log.info({ origin, id: result.id, version: result.version, code: result.error.code }, 'notice refused');
      continue;
    }
    for (const r of result.recipients) {
      rt.log.info(
        {
          origin,
          id: result.id,
          version: result.version,
          rcpt: r.recipient,
          disposition: r.disposition,
          ...(r.disposition === 'rejected' ? { code: r.code, reason: r.text } : {}),
          ...(r.disposition === 'challenge' ? { bits: r.challenge.bits } : {}),
          ...(r.disposition === 'deferred' ? { min_poll_s: r.min_poll_s, max_poll_s: r.max_poll_s } : {}),
          ...(r.disposition === 'redirect' ? { endpoint: r.endpoint } : {}),
        },
        'notice decision',
      );
      rt.metrics?.noticeDisposition(r.disposition, 'received');
      if (r.disposition === 'challenge') rt.metrics?.challenge('issued');
      rt.traffic
        .record({ kind: 'first-contact', side: 'received', outcome: contactOutcome[r.disposition], domain: origin }, at)
        .catch((err: unknown) => rt.log.warn({ err }, 'traffic ledger: not recorded'));
    }
  }
}

export function registerNoticeRoutes(app: FastifyInstance, rt: NoticeRouteDeps): void {
  app.post(PATHS.notices, async (request, reply) => {
    const origin = request.pmtpOrigin ?? '';
    const body = parseJsonBody(rawBody(request));
    if (body === undefined) return sendError(reply, 'batch_invalid', 'body is not JSON');
    const batch = parseNoticeBatch(body, {
      signedBy: origin,
      domain: rt.domain,
      maxBatch: Math.min(rt.config.pmtp.max_batch, 1000),
    });
    if (!batch.ok)
      return sendError(reply, batch.code, batch.detail, batch.code === 'wrong_destination' ? 403 : undefined);
    const originEndpoint = await rt.directory.endpointOf(origin);
    const results: NoticeResult[] = new Array<NoticeResult>(batch.value.notices.length);
    // (id, version) is unique within a batch, so notices can be decided side by side
    await eachLimited(batch.value.notices, NOTICE_PARALLELISM, async (notice, index) => {
      const handled = await handleNotice(rt, origin, notice, originEndpoint);
      results[index] = handled.result;
      const { id, version } = notice;
      if (handled.pull) await queuePull(rt.queues, origin, id, version, 'full');
      if (handled.decide) await queuePull(rt.queues, origin, id, version, 'decide');
    });
    recordOutcomes(rt, origin, results);
    return sendSigned(rt, request, reply, { results });
  });

  app.get('/pmtp/v1/status/:cookie', async (request, reply) => {
    const { cookie } = request.params as { cookie: string };
    const ref = await rt.inbound.cookie(cookie);
    if (!ref || ref.origin !== request.pmtpOrigin) return sendError(reply, 'cookie_unknown');
    const rec = await rt.inbound.recipient(ref.origin, ref.id, ref.recipient);
    if (!rec) return sendError(reply, 'cookie_unknown');
    return sendSigned(rt, request, reply, {
      id: ref.id,
      version: rec.version,
      recipient: ref.recipient,
      ...rec.disposition,
    });
  });

  app.delete('/pmtp/v1/notices/:id', async (request, reply) => {
    const origin = request.pmtpOrigin ?? '';
    const { id } = request.params as { id: string };
    const query = withdrawQuerySchema.safeParse(request.query);
    if (!query.success)
      return sendError(reply, 'malformed_request', 'expected version, reason and optionally recipient');
    const outcomes = await withdrawNotice(rt, origin, id, query.data);
    const { version } = query.data;
    return sendSigned(rt, request, reply, { id, version, recipients: outcomes } satisfies WithdrawResponse);
  });
}
