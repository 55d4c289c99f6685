// Who wrote a pulled message, as far as the recipient can tell (docs/protocol.md §6.4, §13.2): the
// author (each From: address of the copy we deliver), the notice's sender and the origin domain.
// Pure. Only an author the origin speaks for, or a trusted gateway's DMARC pass, is `aligned`.

import { parseAddress, sameAddress } from './address.js';
import type { Provenance } from './message-format.js';

/**
 * `aligned`: the author is authenticated for its domain. `vouched`: the origin signed the message
 * and answers for it, but the author's domain did not (a list, a forward, a gateway we do not trust).
 */
export type AuthorStanding = 'aligned' | 'vouched';

export interface AuthorFacts {
  /** the serving domain whose signatures verified */
  readonly origin: string;
  /** the sender the notice named */
  readonly noticeSender: string;
  readonly manifestFrom: string;
  /** every From: address of the copy the mailbox gets (original bytes and composed headers) */
  readonly headerFrom: readonly string[];
  readonly provenance?: Provenance;
  /** gateways whose SMTP verdicts this recipient honours, like ARC's trusted sealers */
  readonly trustedGateways: ReadonlySet<string>;
}

export interface AuthorJudgement {
  readonly standing: AuthorStanding;
  /** the provenance's verdicts count: it exists and its gateway is the origin and trusted */
  readonly provenanceTrusted: boolean;
}

export function judgeAuthor(facts: AuthorFacts): AuthorJudgement {
  const { provenance } = facts;
  const provenanceTrusted =
    provenance !== undefined && provenance.gateway === facts.origin && facts.trustedGateways.has(provenance.gateway);
  const authorDomains = new Set(facts.headerFrom.map((a) => parseAddress(a)?.domain));
  const oneAuthor =
    facts.headerFrom.length > 0 &&
    !authorDomains.has(undefined) &&
    authorDomains.size === 1 &&
    sameAddress(facts.noticeSender, facts.manifestFrom) &&
    facts.headerFrom.every((a) => sameAddress(a, facts.manifestFrom));
  if (!oneAuthor) return { standing: 'vouched', provenanceTrusted };
  const domain = parseAddress(facts.manifestFrom)?.domain;
  const originSpeaks = domain === facts.origin;
  const dmarcPass =
    provenanceTrusted && provenance.dmarc.result === 'pass' && provenance.dmarc.domain.toLowerCase() === domain;
  return { standing: originSpeaks || dmarcPass ? 'aligned' : 'vouched', provenanceTrusted };
}
