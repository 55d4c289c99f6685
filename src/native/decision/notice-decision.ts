// One notice, recipient side: per-notice checks, idempotency by (id, version) (a re-sent notice
// gets the stored answers; only new credentials re-open challenged/deferred recipients), edits
// (a newer version supersedes an unpulled one), and the per-recipient disposition and state.
import { randomBytes } from 'node:crypto';
import { errorBody } from '../../codes.js';
import type { PmtpContext } from '../pmtp-context.js';
import { domainOf, sameAddress } from '../protocol/address.js';
import { signDelegation } from '../protocol/delegation.js';
import {
  checkNotice,
  type Disposition,
  type Notice,
  type NoticeResult,
  type RecipientDisposition,
} from '../protocol/notice.js';
import { isFinal, type RecipientEvent, type RecipientState, transition } from '../protocol/recipient-state.js';
import type { InboundRecipient } from '../state/inbound-notices.js';
import { decideRecipient, type FirstContactDeps, newChallenge } from './first-contact.js';

/** The parts of the PMTP context this file uses. */
export type NoticeDecisionDeps = Pick<
  PmtpContext,
  'config' | 'deferredTokens' | 'domain' | 'inbound' | 'keys' | 'nowS' | 'policy'
> &
  FirstContactDeps;

export interface HandledNotice {
  readonly result: NoticeResult;
  /** Some recipient was newly accepted: a pull is due. */
  readonly pull: boolean;
  /** Some recipient waits for the sender's authentication to be checked (gateway mail). */
  readonly decide: boolean;
}

const REOPENED: ReadonlySet<RecipientState> = new Set(['challenged', 'deferred']);

function failed(notice: Notice, code: Parameters<typeof errorBody>[0], detail: string): HandledNotice {
  return {
    result: { id: notice.id, version: notice.version, error: errorBody(code, detail).error },
    pull: false,
    decide: false,
  };
}

export async function handleNotice(
  rt: NoticeDecisionDeps,
  origin: string,
  notice: Notice,
  originEndpoint: string,
): Promise<HandledNotice> {
  const checked = checkNotice(notice, {
    destination: rt.domain,
    now: rt.nowS(),
    maxLifetimeS: rt.config.pmtp.max_notice_lifetime_s,
    originEndpoint,
  });
  if (!checked.ok) return failed(notice, checked.code, checked.detail);
  const head = await rt.inbound.head(origin, notice.id);
  if (head && notice.version < head.version)
    return failed(notice, 'version_superseded', `version ${head.version} is current`);
  if (head && notice.version === head.version && head.digest !== notice.manifest_digest) {
    return failed(notice, 'notice_conflict', 'this (id, version) was announced with another manifest digest');
  }
  if (!head || notice.version > head.version) {
    const { version, manifest_digest: digest, size, sender, expires } = notice;
    await rt.inbound.setHead(
      origin,
      notice.id,
      { version, digest, size, sender, expires, receivedAt: rt.nowS() },
      rt.nowS(),
    );
  }
  // Mail a gateway converted (sender outside the origin) is authenticated only by its provenance.
  const authenticated = domainOf(notice.sender) === origin;
  // our domain's own limit (domains.settings), as our server information announced it
  const tooLarge = notice.size > (rt.policy.ownSizeLimit(rt.domain) ?? rt.config.limits.message_size_bytes);
  let pull = false;
  let decide = false;
  const recipients: RecipientDisposition[] = [];
  for (const recipient of notice.recipients) {
    const stored = await rt.inbound.recipient(origin, notice.id, recipient);
    // an unauthenticated sender can still answer the challenge we gave it (tokens never help it)
    const answersChallenge =
      stored?.state === 'challenged' &&
      stored.version === notice.version &&
      (notice.pow ?? []).some((p) => sameAddress(p.challenge.recipient, recipient));
    const hasCredentials = (notice.pow?.length ?? 0) + (notice.tokens?.length ?? 0) > 0;
    const reopened =
      stored !== undefined && REOPENED.has(stored.state) && (authenticated ? hasCredentials : answersChallenge);
    if (stored && stored.version === notice.version && !reopened) {
      // a repeated notice (the origin retries when our answer was lost, e.g. we died before
      // queueing the pull): an accepted recipient still waiting needs its pull; the job id dedupes
      if (stored.state === 'accepted') pull = true;
      recipients.push({ recipient, ...stored.disposition });
      continue;
    }
    if (stored && stored.version < notice.version && (stored.state === 'fetched' || isFinal(stored.state))) {
      recipients.push({
        recipient,
        disposition: 'rejected',
        code: 'already_fetched',
        text: 'an earlier version was already fetched',
      });
      continue;
    }
    const decided = await decideOne(rt, { origin, notice, recipient, authenticated, answersChallenge, tooLarge });
    const saved = await rt.inbound.updateRecipient(origin, notice.id, recipient, (cur) =>
      nextRecord(cur, notice.version, recipient, decided),
    );
    if (decided.event === 'accept' && saved?.state === 'accepted') pull = true;
    if (decided.event === 'defer') decide = true;
    recipients.push({ recipient, ...(saved?.disposition ?? decided.disposition) });
  }
  // the decision weighs them if the provenance shows the author authenticated
  if (decide)
    await rt.deferredTokens.save(origin, notice.id, notice.version, notice.tokens ?? [], notice.expires, rt.nowS());
  return { result: { id: notice.id, version: notice.version, recipients }, pull, decide };
}

interface Decided {
  readonly event: RecipientEvent;
  readonly disposition: Disposition;
  readonly trust?: InboundRecipient['trust'];
}

function nextRecord(
  cur: InboundRecipient | undefined,
  version: number,
  recipient: string,
  d: Decided,
): InboundRecipient | undefined {
  let state: RecipientState = cur?.state ?? 'notified';
  if (cur && cur.version < version) {
    const edited = transition(state, 'edit');
    if (!edited.ok) return undefined;
    state = edited.state;
  }
  const next = transition(state, d.event);
  if (!next.ok) return undefined;
  return { recipient, version, state: next.state, disposition: d.disposition, ...(d.trust ? { trust: d.trust } : {}) };
}

async function decideOne(
  rt: NoticeDecisionDeps,
  input: {
    origin: string;
    notice: Notice;
    recipient: string;
    authenticated: boolean;
    /** an unauthenticated sender answers the challenge its provenance check ended in */
    answersChallenge: boolean;
    tooLarge: boolean;
  },
): Promise<Decided> {
  const { origin, notice, recipient } = input;
  if (!rt.policy.accepts(rt.domain, recipient.slice(0, recipient.lastIndexOf('@')))) {
    return {
      event: 'reject',
      disposition: { disposition: 'rejected', code: 'recipient_unknown', text: 'no such recipient' },
    };
  }
  const redirect = rt.config.pmtp.redirects.find((r) => r.recipient === recipient);
  if (redirect) {
    const endpoint = new URL(redirect.endpoint).origin;
    const delegation = signDelegation({
      domain: rt.domain,
      recipient,
      endpoint,
      delegateKey: Buffer.from(redirect.delegate_key, 'base64url'),
      expires: rt.nowS() + redirect.valid_s,
      privateKey: rt.keys.current.privateKey,
    });
    return { event: 'redirect', disposition: { disposition: 'redirect', endpoint, delegation } };
  }
  if (input.tooLarge)
    return {
      event: 'reject',
      disposition: { disposition: 'rejected', code: 'message_too_large', text: 'message exceeds our size limit' },
    };
  if (!input.authenticated && !input.answersChallenge) {
    const cookie = randomBytes(24).toString('base64url');
    await rt.inbound.setCookie(cookie, { origin, id: notice.id, recipient }, notice.expires);
    const { defer_min_poll_s: min, defer_max_poll_s: max } = rt.config.pmtp;
    return {
      event: 'defer',
      disposition: { disposition: 'deferred', cookie, min_poll_s: min, max_poll_s: Math.max(min, max) },
    };
  }
  return fromVerdict(
    rt,
    notice,
    recipient,
    await decideRecipient(rt, {
      notice,
      recipient,
      senderAuthenticated: input.authenticated,
      use: `${origin}/${notice.id}/${recipient}`,
    }),
  );
}

export function fromVerdict(
  rt: NoticeDecisionDeps,
  notice: Notice,
  recipient: string,
  verdict: Awaited<ReturnType<typeof decideRecipient>>,
): Decided {
  if (verdict.decision === 'accept')
    return { event: 'accept', disposition: { disposition: 'accepted' }, trust: verdict.trust };
  if (verdict.decision === 'reject') {
    return {
      event: 'reject',
      disposition: { disposition: 'rejected', code: verdict.code, text: errorBody(verdict.code).error.message },
    };
  }
  return {
    event: 'challenge',
    disposition: { disposition: 'challenge', challenge: newChallenge(rt, notice, recipient) },
  };
}
