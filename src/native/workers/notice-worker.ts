// The `notice` queue processor, origin side: fans an outbox entry out to one job per destination,
// sends notices (batched per destination), records dispositions, re-sends solved challenges,
// polls deferred recipients, withdraws. Backoff per job with jitter and cap; a per-destination
// circuit breaker parks jobs for a dead domain and releases them all when it answers again.
// SMTP-born mail: after each job that may have made recipients final, their DSN (outcome-reports).
import { DelayedError, UnrecoverableError } from 'bullmq';
import type { DomainNoticeJob, NoticeJob } from '../../mail/jobs.js';
import type { OutboxFacts, OutboxRecord } from '../../mail/spool-records.js';
import type { MailJob } from '../../queue/queues.js';
import { isRedisFault } from '../../queue/redis-faults.js';
import type { NoticeBatcher } from '../client/notice-batcher.js';
import { PowSolverStopped } from '../client/pow-solver.js';
import { refusesOriginKeys } from '../keys/peer-directory.js';
import { expiryDelayMs, noticeJobs } from '../outbox/notice-jobs.js';
import { type OutcomeReportDeps, reportDelay, reportOutcomes } from '../outbox/outcome-reports.js';
import type { PmtpContext } from '../pmtp-context.js';
import { withdrawResponseSchema } from '../protocol/ack.js';
import { fetchUrl, PATHS } from '../protocol/endpoints.js';
import { type Notice, statusResponseSchema } from '../protocol/notice.js';
import { PmtpRequestError } from '../protocol/pmtp-request-error.js';
import { isFinal } from '../protocol/recipient-state.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import {
  applyDisposition,
  applyNoticeResult,
  codeOrFallback,
  type OutcomeContext,
  type OutcomeDeps,
} from './notice-outcomes.js';

/** The parts of the PMTP context this file uses. */
export type NoticeWorkerContext = Pick<
  PmtpContext,
  'client' | 'directory' | 'endpoint' | 'log' | 'nowMs' | 'nowS' | 'outbox' | 'queues' | 'spool' | 'status'
> &
  OutcomeDeps &
  OutcomeReportDeps;

/** Why a pulled recipient was given up when the copy expired. */
const NO_ACK = { code: 'lifetime_exceeded', text: 'pulled, but no ack came before the notice expired' } as const;

export interface NoticeWorkerDeps {
  readonly rt: NoticeWorkerContext;
  readonly batcher: NoticeBatcher;
  readonly breaker: CircuitBreaker;
}

export function createNoticeProcessor(deps: NoticeWorkerDeps) {
  const { rt } = deps;
  return async (job: MailJob, data: NoticeJob, token?: string): Promise<string> => {
    const entry = await rt.spool.read(data.queueId).catch(() => undefined);
    if (entry?.meta.kind !== 'pmtp-outbox') return 'gone';
    const facts = entry.meta.pmtp;
    const copy = { queueId: data.queueId, meta: entry.meta };
    if (data.action === 'expire' && data.warn) {
      // the copy's one timer, woken first for the delay warning: warn, then wait on for the lifetime
      if (!token) throw new Error(`the expiry of ${data.queueId} must wait on, which needs its worker's token`);
      await reportDelay(rt, copy);
      await job.updateData({ action: 'expire', queueId: data.queueId });
      await job.moveToDelayed(rt.nowMs() + expiryDelayMs(rt, facts.expires), token);
      throw new DelayedError();
    }
    if (data.action === 'expire') {
      for (const s of await rt.status.get(facts.id)) {
        if (s.version !== facts.version) continue;
        // pulled but never acked: expired would claim no pull happened; we stop waiting for the ack
        if (s.state === 'fetched')
          await rt.status.apply(facts.id, s.recipient, 'give-up', rt.nowS(), NO_ACK, facts.version);
        else await rt.status.apply(facts.id, s.recipient, 'expire', rt.nowS(), {}, facts.version);
      }
      // before the copy goes: RET=FULL returns its original part
      await reportOutcomes(rt, copy);
      await rt.spool.remove(data.queueId);
      return 'expired';
    }
    if (data.action === 'delay-warning') return `delay-warning:${await reportDelay(rt, copy)}`;
    if (data.action === 'fan-out') {
      let current = await rt.outbox.current(facts.id);
      // the submit that queued us records the copy a moment after accepting it: give it that moment
      for (let wait = 0; wait < 20 && (!current || current.version < facts.version); wait++) {
        await new Promise((r) => setTimeout(r, 50));
        current = await rt.outbox.current(facts.id);
      }
      if (!current || current.version < facts.version) {
        // the outbox names this copy current right after accepting it (or, if its process died in
        // between, when the hand-off runs again): notices before that would name an unpullable copy
        if (rt.nowS() >= facts.expires) {
          await rt.spool.remove(data.queueId);
          return 'never-recorded';
        }
        if (!token) throw new Error(`${facts.id} is not recorded in the outbox yet`);
        await job.moveToDelayed(rt.nowMs() + 1000, token);
        throw new DelayedError();
      }
      if (current.version === facts.version && current.queueId !== data.queueId) {
        // a hand-off that ran twice stored this second copy; the recorded one is what peers pull
        await rt.spool.remove(data.queueId);
        return 'duplicate-copy';
      }
      // a recovered copy (the submit that stored it queues these itself): same ids, so a no-op for any still kept
      await rt.queues.addBulk(
        'notice',
        noticeJobs(rt, {
          queueId: data.queueId,
          destinations: facts.destinations,
          expires: facts.expires,
          smtp: entry.meta.smtp,
        }),
      );
      return 'fanned-out';
    }
    const domain = data.domain;
    const breaker = await deps.breaker.state(domain, rt.nowMs());
    if (breaker.open && token) {
      await deps.breaker.park(domain, 'notice', job.id ?? '');
      await job.moveToDelayed(breaker.untilMs, token);
      throw new DelayedError();
    }
    let outcome: string;
    try {
      outcome = await run(deps, data, facts);
      // nothing on record when we looked: no reset to write (a failure counted meanwhile is reset by
      // the next success, and a trip meanwhile by its probe), which saves 4 Redis commands a notice
      if (!(breaker.open === false && breaker.quiet)) await deps.breaker.success(domain);
    } catch (err) {
      return handleFailure(deps, job, data, token, copy, err);
    }
    // outside the try: a DSN that cannot be queued is our trouble, not the destination's
    await reportOutcomes(rt, copy);
    return outcome;
  };
}

async function run(deps: NoticeWorkerDeps, job: DomainNoticeJob, facts: OutboxFacts): Promise<string> {
  const { rt } = deps;
  const { id, version } = facts;
  const current = await rt.outbox.current(id);
  if (current && current.version > version) return 'superseded';
  const endpoint =
    (job.action === 'withdraw' ? undefined : job.endpoint) ?? (await rt.directory.endpointOf(job.domain));
  const ctx: OutcomeContext = { rt, job, id, version, sender: facts.manifest.from, endpoint };
  if (job.action === 'withdraw') {
    const query = new URLSearchParams({
      version: String(version),
      reason: job.reason,
      ...(job.recipient ? { recipient: job.recipient } : {}),
    });
    await rt.client.json(
      {
        destination: job.domain,
        endpoint,
        method: 'DELETE',
        path: `${PATHS.notice(id)}?${query}`,
        signedResponse: true,
      },
      withdrawResponseSchema,
    );
    return 'withdrawn';
  }
  if (job.action === 'poll') return poll(deps, ctx, job);
  const everyone = facts.destinations[job.domain] ?? [];
  const wanted = job.recipients ?? everyone;
  const statuses = await rt.status.get(id);
  const open = wanted.filter((r) => {
    const s = statuses.find((x) => x.recipient === r);
    return !s || (s.version === version && !isFinal(s.state));
  });
  if (open.length === 0) return 'nothing-to-send';
  await rt.outbox.setDomain(id, job.domain, version, everyone, true);
  const notice: Notice = {
    id,
    version,
    size: facts.manifest.parts.reduce((n, p) => n + p.length, 0),
    manifest_digest: facts.digest,
    sender: facts.manifest.from,
    recipients: open,
    expires: facts.expires,
    fetch: fetchUrl(rt.endpoint(), id),
    ...(facts.tokens ? { tokens: facts.tokens } : {}),
  };
  // solutions found earlier (before a poll, a failed send, a crash) go with every notice to the
  // endpoint that issued them, so a solved challenge is never solved again
  const pow = statuses.flatMap((s) =>
    s.pow && s.version === version && s.pow.endpoint === endpoint && open.includes(s.recipient)
      ? [{ challenge: s.pow.challenge, solution: s.pow.solution }]
      : [],
  );
  if (pow.length > 0) notice.pow = pow;
  let solved = await applyNoticeResult(ctx, await deps.batcher.send(job.domain, endpoint, notice), open);
  for (let round = 0; solved.length > 0 && round < 2; round++) {
    const again: Notice = {
      ...notice,
      recipients: solved.map((s) => s.recipient),
      pow: solved.map(({ challenge, solution }) => ({ challenge, solution })),
    };
    solved = await applyNoticeResult(ctx, await deps.batcher.send(job.domain, endpoint, again), again.recipients);
  }
  return 'sent';
}

async function poll(
  deps: NoticeWorkerDeps,
  ctx: OutcomeContext,
  job: Extract<NoticeJob, { action: 'poll' }>,
): Promise<string> {
  const { rt } = deps;
  const { recipient } = job;
  const status = await rt.status.recipient(ctx.id, recipient);
  if (status?.state !== 'deferred' || status.cookie !== job.cookie) return 'not-deferred';
  const answer = await rt.client.json(
    {
      destination: job.domain,
      endpoint: ctx.endpoint,
      method: 'GET',
      path: PATHS.status(job.cookie),
      signedResponse: true,
    },
    statusResponseSchema,
  );
  if (answer.disposition === 'deferred' && job.pollUntil !== undefined && rt.nowS() >= job.pollUntil) {
    await rt.status.apply(
      ctx.id,
      recipient,
      'give-up',
      rt.nowS(),
      { code: 'lifetime_exceeded', text: 'no decision within max_poll_s' },
      ctx.version,
    );
    await rt.queues.add(
      'notice',
      { action: 'withdraw', queueId: job.queueId, domain: job.domain, reason: 'given_up', recipient },
      { jobId: `giveup-${job.queueId}-${job.polls ?? 0}` },
    );
    return 'given-up';
  }
  const solved = await applyDisposition(ctx, recipient, answer);
  if (solved) {
    await rt.queues.add(
      'notice',
      { action: 'notify', queueId: job.queueId, domain: job.domain, recipients: [recipient], endpoint: ctx.endpoint },
      { jobId: `resend-${job.queueId}-${job.polls ?? 0}` },
    );
  }
  return `polled:${answer.disposition}`;
}

async function handleFailure(
  deps: NoticeWorkerDeps,
  job: MailJob,
  data: DomainNoticeJob,
  token: string | undefined,
  copy: { readonly queueId: string; readonly meta: OutboxRecord },
  err: unknown,
): Promise<string> {
  const { rt } = deps;
  const facts = copy.meta.pmtp;
  const { domain } = data;
  // our Redis failing says nothing about the destination: no breaker, no attempt (the worker retries in seconds)
  if (isRedisFault(err)) throw err;
  // nor does our shutdown stopping a solve
  if (err instanceof PowSolverStopped) throw err;
  const failure =
    err instanceof PmtpRequestError
      ? err
      : new PmtpRequestError('internal_error', err instanceof Error ? err.message : String(err), true);
  // a destination that answered it could not get our keys is up: retry on schedule, no breaker
  const ownKeysRefused = failure.httpStatus !== undefined && refusesOriginKeys(failure.code);
  const peerDown =
    failure.retryable && (failure.httpStatus === undefined || failure.httpStatus >= 500) && !ownKeysRefused;
  if (peerDown) {
    // parked jobs are promoted the moment the domain answers again, whatever their backoff
    await deps.breaker.park(domain, 'notice', job.id ?? '');
    const state = await deps.breaker.failure(domain, rt.nowMs());
    if (token && rt.nowS() < facts.expires) {
      // a down peer is the breaker's to time, not the retry schedule's: the job waits one pause
      // at most, even if the promotion missed it (it was still running when the peer answered)
      const retryAfterMs = (failure.retryAfterS ?? 0) * 1000;
      const untilMs = state.open ? state.untilMs : rt.nowMs() + Math.max(deps.breaker.firstPauseMs, retryAfterMs);
      await job.moveToDelayed(untilMs, token);
      throw new DelayedError();
    }
  }
  if (failure.retryAfterS !== undefined && token) {
    await job.moveToDelayed(rt.nowMs() + failure.retryAfterS * 1000, token);
    throw new DelayedError();
  }
  const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1) || rt.nowS() > facts.expires;
  if (!failure.retryable || lastAttempt) {
    const event = failure.retryable ? 'expire' : 'reject';
    const recipients = data.action === 'notify' ? (data.recipients ?? facts.destinations[domain] ?? []) : [];
    for (const r of recipients)
      await rt.status.apply(
        facts.id,
        r,
        event,
        rt.nowS(),
        { code: codeOrFallback(failure.code), text: failure.message },
        facts.version,
      );
    rt.log.warn({ queueId: data.queueId, domain, code: failure.code }, 'notice delivery stopped');
    await reportOutcomes(rt, copy);
    throw new UnrecoverableError(failure.message);
  }
  throw failure;
}
