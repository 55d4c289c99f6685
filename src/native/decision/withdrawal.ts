// An origin withdraws a notice (DELETE /pmtp/v1/notices/{id}): each named recipient not yet
// fetched becomes retracted or given-up; once no recipient waits, the head and its pull job go.

import { pullJobId } from '../../mail/jobs.js';
import type { PmtpContext } from '../pmtp-context.js';
import type { WithdrawResponse } from '../protocol/ack.js';
import { type RecipientEvent, transition } from '../protocol/recipient-state.js';

/** The parts of the PMTP context this file uses. */
export type WithdrawalDeps = Pick<PmtpContext, 'inbound' | 'queues'>;

export interface Withdrawal {
  readonly version: number;
  readonly reason: 'retracted' | 'given_up';
  /** one recipient, or every recipient of the notice */
  readonly recipient?: string;
}

export async function withdrawNotice(
  rt: WithdrawalDeps,
  origin: string,
  id: string,
  request: Withdrawal,
): Promise<WithdrawResponse['recipients']> {
  const { version, reason, recipient } = request;
  const event: RecipientEvent = reason === 'retracted' ? 'retract' : 'give-up';
  const target = reason === 'retracted' ? 'retracted' : 'given-up';
  const known = await rt.inbound.recipients(origin, id);
  const outcomes: WithdrawResponse['recipients'] = [];
  for (const rec of known.filter(
    (r) => r.version <= version && (recipient === undefined || r.recipient === recipient),
  )) {
    const saved = await rt.inbound.updateRecipient(origin, id, rec.recipient, (cur) => {
      // fetched: the bytes are ours already, too late to withdraw
      if (!cur || cur.state === 'fetched') return undefined;
      const next = transition(cur.state, event);
      return next.ok ? { ...cur, state: next.state } : undefined;
    });
    outcomes.push({ recipient: rec.recipient, outcome: saved?.state === target ? 'withdrawn' : 'too_late' });
  }
  const remaining = await rt.inbound.recipients(origin, id);
  if (
    remaining.every(
      (r) => r.state === 'retracted' || r.state === 'given-up' || r.state === 'rejected' || r.state === 'expired',
    )
  ) {
    await rt.inbound.forgetHead(origin, id);
    const job = await rt.queues.queue('pull').getJob(pullJobId(origin, id, version));
    await job?.remove().catch(() => undefined);
  }
  return outcomes;
}
