// Pure RCPT-time routing from config: mailbox (a Maildir here), postfix (our mailboxes behind
// Postfix), pmtp (remote PMTP domain) or legacy internet. Leaving the organisation needs a
// logged-in submission client or a trusted relay-in client; on mx it is relaying (554 5.7.1).

import type { StatusCode } from '../codes.js';
import type { Config, ListenerConfig } from '../config/schema.js';
import { asciiDomain, type MailAddress } from '../mail/address-syntax.js';
import type { InboundRoute } from '../mail/spool-records.js';
import { LivePolicy } from '../policy/live-policy.js';

export type ListenerRole = ListenerConfig['role'];
/** Where a recipient goes; the listener adds the address when it stores the route. */
export type RecipientRoute = Omit<InboundRoute, 'rcpt'>;

export interface RoutingTable {
  readonly mailbox: ReadonlySet<string>;
  readonly postfix: ReadonlySet<string>;
  readonly directory: ReadonlySet<string>;
  /** recipient lists, live: SIGHUP changes them for the next RCPT */
  readonly recipients: Pick<LivePolicy, 'accepts'>;
  /** the domain that stands in for a domainless `<postmaster>` */
  readonly postmasterDomain: string | undefined;
}

export type RecipientDecision =
  | { readonly kind: 'accept'; readonly route: RecipientRoute }
  | { readonly kind: 'reject'; readonly code: StatusCode; readonly reason: string }
  /** may leave the organisation; the caller asks DNS whether the domain speaks PMTP */
  | { readonly kind: 'remote'; readonly domain: string };

export function routingTable(
  config: Pick<Config, 'domains' | 'pmtp'>,
  recipients: Pick<LivePolicy, 'accepts'> = new LivePolicy(config.domains),
): RoutingTable {
  const ascii = (d: string): string => asciiDomain(d) || d;
  const mailbox = new Set(config.domains.mailbox.map(ascii));
  const postfix = new Set(Object.keys(config.domains.postfix).map(ascii));
  return {
    mailbox,
    postfix,
    directory: new Set(Object.keys(config.pmtp.directory).map(ascii)),
    recipients,
    postmasterDomain: [...mailbox, ...postfix][0],
  };
}

export function decideRecipient(
  address: MailAddress,
  table: RoutingTable,
  role: ListenerRole,
  authenticated: boolean,
): RecipientDecision {
  const local = table.mailbox.has(address.domain)
    ? 'mailbox'
    : table.postfix.has(address.domain)
      ? 'postfix'
      : undefined;
  if (local) {
    if (!table.recipients.accepts(address.domain, address.local)) {
      return { kind: 'reject', code: 'unknown_user', reason: `${address.address}: user unknown` };
    }
    return { kind: 'accept', route: { kind: local, domain: address.domain } };
  }
  if (role === 'mx') return { kind: 'reject', code: 'relay_denied', reason: `${address.domain} is not served here` };
  if (role === 'submission' && !authenticated)
    return { kind: 'reject', code: 'auth_required', reason: 'authenticate to send to other domains' };
  if (table.directory.has(address.domain))
    return { kind: 'accept', route: { kind: 'pmtp', domain: address.domain, via: 'directory' } };
  return { kind: 'remote', domain: address.domain };
}

/** Completes a `remote` decision once DNS discovery has answered. */
export function remoteRoute(domain: string, speaksPmtp: boolean): RecipientRoute {
  return speaksPmtp ? { kind: 'pmtp', domain, via: 'dns' } : { kind: 'internet', domain };
}
