// What the origin does with each recipient's disposition: record the state; deferred → schedule a
// status poll; challenge → solve (bounded bits) for a re-send; redirect → follow only with a valid
// delegation proof, whose delegate key is then granted that one recipient; rejected → final (no bounce).
import { errorBody, isStatusCode } from '../../codes.js';
import { type DomainNoticeJob, jobSafe, type NoticeJob } from '../../mail/jobs.js';
import { dispositionOutcome } from '../../observability/traffic-ledger.js';
import type { PmtpContext } from '../pmtp-context.js';
import { sameAddress } from '../protocol/address.js';
import { verifyDelegation } from '../protocol/delegation.js';
import type { Disposition, NoticeResult } from '../protocol/notice.js';
import type { PowChallenge } from '../protocol/proof-of-work.js';

/** The parts of the PMTP context this file uses. */
export type OutcomeDeps = Pick<
  PmtpContext,
  | 'config'
  | 'delegates'
  | 'directory'
  | 'log'
  | 'nowMs'
  | 'nowS'
  | 'metrics'
  | 'powSolver'
  | 'queues'
  | 'status'
  | 'traffic'
>;

export const MAX_REDIRECTS = 3;

export interface Solved {
  readonly recipient: string;
  readonly challenge: PowChallenge;
  readonly solution: string;
}

export interface OutcomeContext {
  readonly rt: OutcomeDeps;
  readonly job: DomainNoticeJob;
  readonly id: string;
  readonly version: number;
  /** the notice's sender: a challenge must name it */
  readonly sender: string;
  readonly endpoint: string;
}

/** Applies one notice result; returns the challenges it solved, to be sent back at once. */
export async function applyNoticeResult(
  ctx: OutcomeContext,
  result: NoticeResult,
  sent: readonly string[],
): Promise<Solved[]> {
  const { rt, id, version } = ctx;
  if ('error' in result) {
    const code = result.error.code;
    if (code === 'version_superseded') return [];
    for (const r of sent) {
      await rt.status.apply(
        id,
        r,
        code === 'notice_expired' ? 'expire' : 'reject',
        rt.nowS(),
        { code, text: result.error.message },
        version,
      );
    }
    return [];
  }
  const solved: Solved[] = [];
  for (const d of result.recipients) {
    // a server (a delegate above all) answers only for the recipients it was sent
    if (!sent.some((r) => sameAddress(r, d.recipient))) continue;
    const s = await applyDisposition(ctx, d.recipient, d);
    if (s) solved.push(s);
  }
  return solved;
}

export async function applyDisposition(
  ctx: OutcomeContext,
  recipient: string,
  d: Disposition,
): Promise<Solved | undefined> {
  const { rt, id, version, job } = ctx;
  const now = rt.nowS();
  await rt.traffic
    .record(
      { kind: 'first-contact', side: 'sent', outcome: dispositionOutcome[d.disposition], domain: job.domain },
      new Date(rt.nowMs()),
    )
    .catch((err: unknown) => rt.log.warn({ err }, 'traffic ledger: not recorded'));
  rt.metrics?.noticeDisposition(d.disposition, 'sent');
  const reject = (code: Parameters<typeof errorBody>[0], text?: string) =>
    rt.status.apply(id, recipient, 'reject', now, { code, text: text ?? errorBody(code).error.message }, version);
  switch (d.disposition) {
    case 'accepted':
      await rt.status.apply(id, recipient, 'accept', now, {}, version);
      return undefined;
    case 'rejected':
      await rt.status.apply(id, recipient, 'reject', now, { code: d.code, text: d.text }, version);
      return undefined;
    case 'deferred': {
      const polls = (job.action === 'poll' ? (job.polls ?? 0) : 0) + 1;
      const pollUntil = job.action === 'poll' && job.pollUntil ? job.pollUntil : now + d.max_poll_s;
      // kept for `mailbridge status`: why it waits and when we ask again
      const nextPollAt = now + d.min_poll_s;
      await rt.status.apply(
        id,
        recipient,
        'defer',
        now,
        { cookie: d.cookie, endpoint: ctx.endpoint, nextPollAt, pollUntil },
        version,
      );
      const data: NoticeJob = {
        action: 'poll',
        queueId: job.queueId,
        domain: job.domain,
        recipient,
        cookie: d.cookie,
        endpoint: ctx.endpoint,
        pollUntil,
        polls,
      };
      await rt.queues.add('notice', data, {
        jobId: `poll-${job.queueId}-${jobSafe(recipient)}-${polls}`,
        delayMs: d.min_poll_s * 1000,
      });
      return undefined;
    }
    case 'challenge':
      return answerChallenge(ctx, recipient, d.challenge);
    case 'redirect': {
      const redirects = (job.action === 'notify' ? (job.redirects ?? 0) : 0) + 1;
      if (redirects > MAX_REDIRECTS) {
        await reject('redirect_loop');
        return undefined;
      }
      const proof = await verifyDelegation(d.delegation, {
        recipient,
        endpoint: d.endpoint,
        now,
        keyLookup: rt.directory.keyLookup,
      });
      if (!proof.ok) {
        rt.log.warn(
          { id, recipient, endpoint: d.endpoint, code: proof.code },
          'refused redirect without a valid delegation',
        );
        await reject('delegation_invalid', `${proof.code}: ${proof.detail}`);
        return undefined;
      }
      // the delegate signs its pulls and acks for this recipient with its own key (§13.5)
      await rt.delegates.record(proof.value, now);
      await rt.status.apply(id, recipient, 'redirect', now, { endpoint: d.endpoint }, version);
      const data: NoticeJob = {
        action: 'notify',
        queueId: job.queueId,
        domain: job.domain,
        recipients: [recipient],
        endpoint: d.endpoint,
        redirects,
      };
      await rt.queues.add('notice', data, { jobId: `redirect-${job.queueId}-${jobSafe(recipient)}-${redirects}` });
      return undefined;
    }
  }
}

/**
 * Checks that the challenge is about the notice we sent, then solves it in a worker thread within
 * the destination's budget. The solution is recorded with the recipient's status, so every later
 * notice to this endpoint (a retry, the resend after a poll) carries it.
 */
async function answerChallenge(
  ctx: OutcomeContext,
  recipient: string,
  challenge: PowChallenge,
): Promise<Solved | undefined> {
  const { rt, id, version, job } = ctx;
  const reject = (code: 'challenge_too_hard' | 'challenge_wrong_binding', text: string) =>
    rt.status.apply(id, recipient, 'reject', rt.nowS(), { code, text }, version);
  const unbound = [
    challenge.notice_id !== id && `notice ${challenge.notice_id}`,
    !sameAddress(challenge.sender, ctx.sender) && `sender ${challenge.sender}`,
    !sameAddress(challenge.recipient, recipient) && `recipient ${challenge.recipient}`,
  ].filter((x): x is string => typeof x === 'string');
  if (unbound.length > 0) {
    rt.log.warn({ id, recipient, domain: job.domain, names: unbound }, 'refused a challenge bound to another notice');
    await reject('challenge_wrong_binding', `challenge names ${unbound.join(', ')}`);
    return undefined;
  }
  if (challenge.bits > rt.config.pmtp.max_pow_bits) {
    await reject(
      'challenge_too_hard',
      `asked for ${challenge.bits} bits, we solve at most ${rt.config.pmtp.max_pow_bits}`,
    );
    return undefined;
  }
  await rt.status.apply(id, recipient, 'challenge', rt.nowS(), {}, version);
  const known = await rt.status.recipient(id, recipient);
  // the same challenge again (our answer was lost, or the peer ignored it): answer, do not re-solve
  if (known?.version === version && known.pow?.challenge.mac === challenge.mac && known.pow.endpoint === ctx.endpoint)
    return { recipient, challenge, solution: known.pow.solution };
  const outcome = await rt.powSolver.solve(job.domain, challenge);
  // over budget is a wait, not a failure: the notice goes again when the budget refills
  if (outcome.kind !== 'over-budget') rt.metrics?.challenge(outcome.kind === 'solved' ? 'solved' : 'failed');
  if (outcome.kind === 'too-hard') {
    await reject('challenge_too_hard', outcome.detail);
    return undefined;
  }
  if (outcome.kind === 'over-budget') {
    rt.log.warn(
      { id, recipient, domain: job.domain, code: 'pow_budget_exhausted', retryAt: new Date(outcome.retryAtMs) },
      'proof-of-work budget for this destination is spent; the notice goes again when it refills',
    );
    const data: NoticeJob = {
      action: 'notify',
      queueId: job.queueId,
      domain: job.domain,
      recipients: [recipient],
      endpoint: ctx.endpoint,
    };
    await rt.queues.add('notice', data, {
      jobId: `pow-budget-${job.queueId}-${jobSafe(recipient)}-${outcome.retryAtMs}`,
      delayMs: Math.max(0, outcome.retryAtMs - rt.nowMs()),
    });
    return undefined;
  }
  await rt.status.apply(
    id,
    recipient,
    'challenge',
    rt.nowS(),
    { pow: { challenge, solution: outcome.solution, endpoint: ctx.endpoint } },
    version,
  );
  return { recipient, challenge, solution: outcome.solution };
}

export function codeOrFallback(code: string): Parameters<typeof errorBody>[0] {
  return isStatusCode(code) ? code : 'remote_permanent';
}
