// Recipient-side endpoints: POST /pmtp/v1/notices (a batch → per-recipient dispositions, pulls
// queued for accepted recipients), GET /pmtp/v1/status/{cookie} (a deferred recipient's current
// disposition, only for the origin it was given to) and DELETE /pmtp/v1/notices/{id} (withdraw).
// A batch spends one unit of the origin's budget per recipient, and is answered 429 backlog_full
// when it would take the origin past its cap of deferred notices or queued pulls.
import type { FastifyInstance } from 'fastify';
import { dispositionOutcome } from '../../observability/traffic-ledger.js';
import { handleNotice, type NoticeDecisionDeps } from '../decision/notice-decision.js';
import { queuePull } from '../decision/pull-jobs.js';
import { type WithdrawalDeps, withdrawNotice } from '../decision/withdrawal.js';
import type { PmtpContext } from '../pmtp-context.js';
import { type WithdrawResponse, withdrawQuerySchema } from '../protocol/ack.js';
import { domainOf } from '../protocol/address.js';
import { PATHS } from '../protocol/endpoints.js';
import { type Notice, type NoticeResult, parseNoticeBatch } from '../protocol/notice.js';
import type { BacklogKind } from '../state/origin-backlog.js';
import { type ReplyDeps, sendError, sendSigned } from './replies.js';
import { parseJsonBody, rawBody, spendPeerBudget } from './request-auth.js';

/** The parts of the PMTP context this file uses. */
export type NoticeRouteDeps = Pick<
  PmtpContext,
  | 'backlog'
  | 'config'
  | 'directory'
  | 'domain'
  | 'inbound'
  | 'log'
  | 'metrics'
  | 'nowMs'
  | 'nowS'
  | 'queues'
  | 'rate'
  | 'traffic'
> &
  NoticeDecisionDeps &
  WithdrawalDeps &
  ReplyDeps;

const NOTICE_PARALLELISM = 32;

/** How long an origin at its backlog cap is asked to wait: pulls and decisions drain it in about that time. */
const BACKLOG_RETRY_AFTER_S = 30;

/** What a notice will make us hold: a decision for a sender outside the origin (§13.2), else a pull. */
function backlogKind(origin: string, notice: Notice): BacklogKind {
  return domainOf(notice.sender) === origin ? 'pull' : 'deferred';
}

/**
 * Holds a backlog entry for every notice of the batch, or none: when one would pass its cap the
 * entries this batch added are given back and the caller answers 429 for the whole batch.
 */
async function admitBatch(rt: NoticeRouteDeps, origin: string, notices: readonly Notice[]): Promise<boolean> {
  const added: Notice[] = [];
  for (const notice of notices) {
    const kind = backlogKind(origin, notice);
    const { max_deferred_per_origin: deferredCap, max_pulls_per_origin: pullCap } = rt.config.pmtp;
    const cap = kind === 'deferred' ? deferredCap : pullCap;
    const admission = await rt.backlog.admit(kind, origin, notice, cap, rt.nowS());
    if (admission === 'admitted') added.push(notice);
    if (admission === 'full') {
      for (const n of added) await rt.backlog.release(backlogKind(origin, n), origin, n.id, n.version);
      return false;
    }
  }
  return true;
}

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
        .record(
          { kind: 'first-contact', side: 'received', outcome: dispositionOutcome[r.disposition], domain: origin },
          at,
        )
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
      maxBatch: rt.config.pmtp.max_batch,
      maxBatchRecipients: rt.config.pmtp.max_batch_recipients,
    });
    if (!batch.ok) {
      const limited = await spendPeerBudget(rt, request, reply);
      return (
        limited ?? sendError(reply, batch.code, batch.detail, batch.code === 'wrong_destination' ? 403 : undefined)
      );
    }
    const { notices } = batch.value;
    const limited = await spendPeerBudget(
      rt,
      request,
      reply,
      notices.reduce((n, notice) => n + notice.recipients.length, 0),
    );
    if (limited) return limited;
    if (!(await admitBatch(rt, origin, notices)))
      return sendError(
        reply.header('retry-after', String(BACKLOG_RETRY_AFTER_S)),
        'backlog_full',
        `${origin} has as many deferred notices or queued pulls here as we hold for one origin`,
      );
    const originEndpoint = await rt.directory.endpointOf(origin);
    const results: NoticeResult[] = new Array<NoticeResult>(batch.value.notices.length);
    // (id, version) is unique within a batch, so notices can be decided side by side
    await eachLimited(batch.value.notices, NOTICE_PARALLELISM, async (notice, index) => {
      const handled = await handleNotice(rt, origin, notice, originEndpoint);
      results[index] = handled.result;
      const { id, version } = notice;
      if (handled.pull) await queuePull(rt.queues, origin, id, version, 'full');
      if (handled.decide) await queuePull(rt.queues, origin, id, version, 'decide');
      // nothing to pull or decide (rejected, challenged, redirected): it holds nothing here
      if (!handled.pull && !handled.decide) await rt.backlog.release(backlogKind(origin, notice), origin, id, version);
    });
    recordOutcomes(rt, origin, results);
    return sendSigned(rt, request, reply, { v: 1, results });
  });

  app.get('/pmtp/v1/status/:cookie', async (request, reply) => {
    const limited = await spendPeerBudget(rt, request, reply);
    if (limited) return limited;
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
    const limited = await spendPeerBudget(rt, request, reply);
    if (limited) return limited;
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
