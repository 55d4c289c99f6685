// Origin side: what a request signed with a delegate's own key may do (§13.5). Nothing once its grant
// has expired (403 delegation_expired); else pull a message only if its notice for the one recipient went
// to the delegate's endpoint, and ack only that recipient (403 delegation_scope otherwise).
import type { StatusCode } from '../../codes.js';
import type { PmtpContext } from '../pmtp-context.js';
import { sameAddress } from '../protocol/address.js';
import type { Delegation } from '../protocol/delegation.js';

export type ScopeCode = Extract<StatusCode, 'delegation_scope' | 'delegation_expired'>;
export type ScopeVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: ScopeCode; readonly detail: string };

/** A recipient of a message as the origin recorded it: the endpoint its notice last went to. */
export interface NoticedRecipient {
  readonly recipient: string;
  readonly endpoint?: string | undefined;
}

export type Grant = Pick<Delegation, 'recipient' | 'endpoint' | 'expires'>;

const allowed: ScopeVerdict = { ok: true };
const refused = (code: ScopeCode, detail: string): ScopeVerdict => ({ ok: false, code, detail });

/** The grant still runs at `now` (now ≤ expires, as for the proof itself); checked on every request. */
export function grantLive(grant: Grant, now: number): ScopeVerdict {
  return now > grant.expires ? refused('delegation_expired', `delegation expired at ${grant.expires}`) : allowed;
}

/** Whether this recipient record is the delegate's: its recipient, noticed at its endpoint. */
function isDelegated(grant: Grant, noticed: NoticedRecipient): boolean {
  return sameAddress(noticed.recipient, grant.recipient) && noticed.endpoint === grant.endpoint;
}

/** A pull (any view or part): the message must have been noticed to the delegate for its recipient. */
export function pullInScope(grant: Grant, noticed: readonly NoticedRecipient[]): ScopeVerdict {
  return noticed.some((n) => isDelegated(grant, n))
    ? allowed
    : refused('delegation_scope', `this message was not noticed to the delegate of ${grant.recipient}`);
}

/** An ack: every recipient it names must be the delegate's one recipient, noticed at its endpoint. */
export function ackInScope(grant: Grant, acked: readonly NoticedRecipient[]): ScopeVerdict {
  const outside = acked.find((n) => !isDelegated(grant, n));
  return outside === undefined
    ? allowed
    : refused('delegation_scope', `a delegate of ${grant.recipient} may not ack ${outside.recipient}`);
}

/** The parts of the PMTP context this file uses. */
export type DelegateScopeDeps = Pick<PmtpContext, 'status'>;

/** The origin's records of these recipients of message `id`: where each one's notice went. */
export async function noticedRecipients(
  rt: DelegateScopeDeps,
  id: string,
  recipients: readonly string[],
): Promise<NoticedRecipient[]> {
  const noticed: NoticedRecipient[] = [];
  for (const recipient of recipients) {
    const known = await rt.status.recipient(id, recipient);
    noticed.push({ recipient, endpoint: known?.endpoint });
  }
  return noticed;
}

/** A delegate's pull of message `id`, whose domain recipients are `recipients`. */
export async function checkDelegatePull(
  rt: DelegateScopeDeps,
  grant: Grant,
  id: string,
  recipients: readonly string[],
): Promise<ScopeVerdict> {
  return pullInScope(grant, await noticedRecipients(rt, id, recipients));
}
