// The spool meta an SMTP listener writes: everything a later stage needs to convert and route
// the message without re-running a check. The inbound queue's worker reads this shape.

import type { AcceptMeta } from '../queue/accept.js';
import type { ListenerRole, RouteKind } from '../inbound-smtp/recipient-routing.js';
import type { SenderVerdict } from '../inbound-smtp/sender-verdict.js';

export type SenderAuthMode = 'enforce' | 'record' | 'skip';

export interface InboundRoute {
  /** normalised recipient: local part as sent, domain in lower-case ASCII */
  readonly rcpt: string;
  readonly kind: RouteKind;
  readonly domain: string;
  readonly via?: 'directory' | 'dns';
}

export interface InboundSmtpMeta extends AcceptMeta {
  readonly kind: 'smtp';
  readonly queue: 'inbound';
  readonly client: {
    /** the address the checks used: the socket's, or XFORWARD ADDR from a trusted relay-in client */
    readonly ip: string;
    readonly helo: string;
    /** the socket peer, which differs from `ip` under XFORWARD */
    readonly peer: string;
    readonly role: ListenerRole;
    readonly user: string | null;
    readonly tls: boolean;
    /** for the Received header: SMTP, ESMTP, ESMTPS, ESMTPSA */
    readonly protocol: string;
  };
  readonly routes: readonly InboundRoute[];
  readonly senderAuth: { readonly mode: SenderAuthMode; readonly verdict: SenderVerdict | null };
  /** a complete `Authentication-Results:` field ending in CRLF, to be prepended on the way out */
  readonly authenticationResults: string;
  /** our `Received:` field ending in CRLF, to be prepended on the way out */
  readonly received: string;
  /** ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results (CRLF-ended), or '' when not sealed */
  readonly arcSet: string;
  /** a submission client asked for its message back signed: the only recipient is the sender */
  readonly signBack: boolean;
  /** DMARC said quarantine: deliver, but mark as suspect */
  readonly quarantine: boolean;
  readonly body: { readonly size: number; readonly type: string; readonly smtputf8: boolean };
}

/**
 * The trace fields the writing stage prepends, topmost first: our ARC set, our
 * Authentication-Results, then our Received (the newest hop's fields sit on top, RFC 5321 4.4).
 */
export function traceFields(meta: Pick<InboundSmtpMeta, 'arcSet' | 'authenticationResults' | 'received'>): string[] {
  const arc = meta.arcSet === '' ? [] : meta.arcSet.split(/\r\n(?![ \t])/).filter((f) => f !== '').map((f) => `${f}\r\n`);
  return [...arc, meta.authenticationResults, meta.received];
}
