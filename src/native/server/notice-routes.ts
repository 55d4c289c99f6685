// Recipient-side endpoints: POST /pmtp/v1/notices (a batch → per-recipient dispositions, pulls
// queued for accepted recipients), GET /pmtp/v1/status/{cookie} (a deferred recipient's current
// disposition, only for the origin it was given to) and DELETE /pmtp/v1/notices/{id} (withdraw).
import type { FastifyInstance } from 'fastify';
import { handleNotice, type NoticeDecisionDeps } from '../decision/notice-decision.js';
import { queuePull } from '../decision/pull-jobs.js';
import { type WithdrawalDeps, withdrawNotice } from '../decision/withdrawal.js';
import type { PmtpContext } from '../pmtp-context.js';
import { type WithdrawResponse, withdrawQuerySchema } from '../protocol/ack.js';
import { PATHS } from '../protocol/endpoints.js';
import { type NoticeResult, parseNoticeBatch } from '../protocol/notice.js';
import { type ReplyDeps, sendError, sendSigned } from './replies.js';
import { parseJsonBody, rawBody } from './request-auth.js';

/** The parts of the PMTP context this file uses. */
export type NoticeRouteDeps = Pick<PmtpContext, 'config' | 'directory' | 'domain' | 'inbound' | 'queues'> &
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
    return sendSigned(rt, request, reply, { v: 1, results });
  });

  app.get('/pmtp/v1/status/:cookie', async (request, reply) => {
    const { cookie } = request.params as { cookie: string };
    const ref = await rt.inbound.cookie(cookie);
    if (!ref || ref.origin !== request.pmtpOrigin) return sendError(reply, 'cookie_unknown');
    const rec = await rt.inbound.recipient(ref.origin, ref.id, ref.recipient);
    if (!rec) return sendError(reply, 'cookie_unknown');
    return sendSigned(rt, request, reply, {
      v: 1,
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
    return sendSigned(rt, request, reply, { v: 1, id, version, recipients: outcomes } satisfies WithdrawResponse);
  });
}
