// The spool meta an SMTP listener writes: everything a later stage needs to convert and route
// the message without re-running a check. The inbound queue's worker reads this shape.

import type { AcceptMeta } from '../queue/accept.js';
import type { ListenerRole, RouteKind } from './recipient-routing.js';
import type { SenderVerdict } from './sender-verdict.js';

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
  /** DMARC said quarantine: deliver, but mark as suspect */
  readonly quarantine: boolean;
  readonly body: { readonly size: number; readonly type: string; readonly smtputf8: boolean };
}
