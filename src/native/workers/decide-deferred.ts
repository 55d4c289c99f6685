// Deciding recipients we deferred because the sender is outside the notifying origin (mail a
// gateway converted from SMTP): pull the `headers` view, and treat the sender as authenticated
// only if the origin-signed provenance, from a gateway listed in pmtp.trusted_gateways, records a
// DMARC pass for the sender's domain (§13.1).
// The new disposition is what the origin's next status poll sees; accepted → a full pull.

import { decideRecipient, type FirstContactDeps } from '../decision/first-contact.js';
import { fromVerdict, type NoticeDecisionDeps } from '../decision/notice-decision.js';
import { queuePull } from '../decision/pull-jobs.js';
import type { PmtpContext } from '../pmtp-context.js';
import { domainOf } from '../protocol/address.js';
import type { Notice } from '../protocol/notice.js';
import { transition } from '../protocol/recipient-state.js';
import { type PullViewDeps, pullView } from './pulled-message.js';

/** The parts of the PMTP context this file uses. */
export type DecideDeps = Pick<PmtpContext, 'backlog' | 'inbound' | 'queues'> &
  PullViewDeps &
  FirstContactDeps &
  NoticeDecisionDeps;

export async function decideDeferred(rt: DecideDeps, origin: string, id: string, version: number): Promise<string> {
  const head = await rt.inbound.head(origin, id);
  if (!head || head.version !== version) return released(rt, origin, id, version, 'superseded');
  const waiting = (await rt.inbound.recipients(origin, id)).filter(
    (r) => r.version === version && r.state === 'deferred',
  );
  if (waiting.length === 0) return released(rt, origin, id, version, 'nothing-deferred');
  const pulled = await pullView(rt, { origin, id, version, digest: head.digest, view: 'headers', maxBytes: 0 });
  const provenance = pulled.ok ? pulled.head.manifest.provenance : undefined;
  const authenticated =
    pulled.ok &&
    pulled.head.manifest.from === head.sender &&
    // another gateway's verdicts are its word: only a gateway we trust, speaking as the origin, counts
    provenance?.gateway === origin &&
    rt.config.pmtp.trusted_gateways.includes(origin) &&
    provenance.dmarc.result === 'pass' &&
    provenance.dmarc.domain.toLowerCase() === domainOf(head.sender);
  const notice: Notice = {
    id,
    version,
    size: head.size,
    manifest_digest: head.digest,
    sender: head.sender,
    recipients: waiting.map((w) => w.recipient),
    expires: head.expires,
    fetch: '',
    tokens: await rt.deferredTokens.get(origin, id, version),
  };
  let accepted = false;
  for (const w of waiting) {
    const verdict = pulled.ok
      ? await decideRecipient(rt, {
          notice,
          recipient: w.recipient,
          senderAuthenticated: authenticated,
          use: `${origin}/${id}/${w.recipient}`,
        })
      : ({ decision: 'reject', code: pulled.code } as const);
    const decided =
      verdict.decision === 'reject' && (verdict.code === 'message_invalid' || verdict.code === 'origin_unaligned')
        ? {
            event: 'reject' as const,
            disposition: {
              disposition: 'rejected' as const,
              code: verdict.code,
              text: pulled.ok ? '' : pulled.detail.slice(0, 900),
            },
          }
        : fromVerdict(rt, notice, w.recipient, verdict as Parameters<typeof fromVerdict>[3]);
    const saved = await rt.inbound.updateRecipient(origin, id, w.recipient, (cur) => {
      if (cur?.state !== 'deferred') return undefined;
      const next = transition(cur.state, decided.event);
      return next.ok
        ? {
            ...cur,
            state: next.state,
            disposition: decided.disposition,
            ...('trust' in decided && decided.trust ? { trust: decided.trust } : {}),
          }
        : undefined;
    });
    if (saved?.state === 'accepted') accepted = true;
  }
  const outcome = authenticated ? 'decided:authenticated' : 'decided:unauthenticated';
  // the notice stays in the origin's backlog until the pull it needs is done
  if (accepted) await queuePull(rt.queues, origin, id, version, 'full');
  else await rt.backlog.release('deferred', origin, id, version);
  return outcome;
}

async function released(rt: DecideDeps, origin: string, id: string, version: number, outcome: string) {
  await rt.backlog.release('deferred', origin, id, version);
  return outcome;
}
