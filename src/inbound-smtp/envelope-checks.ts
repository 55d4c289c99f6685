// MAIL FROM and RCPT TO, in order: login required (submission), sender syntax, sender owned by
// the login (submission, 553 5.7.1), free spool space (452 4.3.1, Postfix's 1.5 x
// message_size_limit), then per recipient: count limit, address form, route and relay policy.
// A recipient whose domain takes less than the SIZE MAIL FROM declared is refused (552 5.3.4, RFC 1870
// §6.2: per recipient, so the other domains' recipients still get the message).
// A recipient of our own domains is then looked up (recipient-verification.ts): 550 5.1.1 when
// unknown, 450 4.1.1 when the source cannot tell. Accepted addresses keep their form and route for DATA.
// On submission, the signing address (sign-back.ts) stands alone and routes to the sender.

import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import type { MailResolver } from '../dns/resolver.js';
import type { Logger } from '../log.js';
import { checkRecipient, checkSender, type MailAddress } from '../mail/address-syntax.js';
import type { InboundRoute } from '../mail/spool-records.js';
import type { SenderPolicy } from '../policy/live-accounts.js';
import type { Spool } from '../spool/spool.js';
import { speaksPmtp } from './pmtp-discovery.js';
import { decideRecipient, type ListenerRole, type RoutingTable, remoteRoute } from './recipient-routing.js';
import type { RecipientVerification } from './recipient-verification.js';
import { replyError, replyErrorFor } from './reply-error.js';

export interface EnvelopeSettings {
  readonly role: ListenerRole;
  readonly table: RoutingTable;
  readonly minFreeBytes: number;
  readonly maxRecipients: number;
  /** `mailbridge-sign@<hostname>`, lower case */
  readonly signAddress: string;
  /** false when config has no `dkim` key to sign with */
  readonly canSign: boolean;
  /** submission only: the senders each login may use (relay-in is a trusted MTA relaying for many) */
  readonly grants: SenderPolicy | undefined;
  /** asks each domain's `domains.verify` source about its recipients */
  readonly verification: Pick<RecipientVerification, 'check'>;
  /** a domain's own size limit (domains.settings.<d>.max_message_bytes), if below the global one */
  readonly domainLimit: (domain: string) => number | undefined;
}

export class EnvelopeChecks {
  // keyed by smtp-server's address objects, which live exactly as long as their transaction
  private readonly senders = new WeakMap<SMTPServerAddress, string>();
  private readonly routes = new WeakMap<SMTPServerAddress, InboundRoute>();
  private readonly signRequests = new WeakSet<SMTPServerAddress>();

  constructor(
    private readonly settings: EnvelopeSettings,
    private readonly spool: Pick<Spool, 'freeBytes'>,
    private readonly resolver: Pick<MailResolver, 'resolveTxt'>,
    private readonly log: Pick<Logger, 'info'>,
  ) {}

  async mailFrom(address: SMTPServerAddress, session: SMTPServerSession): Promise<void> {
    if (this.settings.role === 'submission' && !session.user) throw replyError('auth_required');
    const sender = checkSender(address.address);
    if (!sender.ok) throw replyError(sender.code, sender.reason);
    const mailFrom = sender.address?.address ?? '';
    const { grants } = this.settings;
    const login = loginOf(session);
    if (grants && !grants.allows(login, mailFrom)) {
      this.log.info({ session: session.id, user: login, mailFrom }, 'sender not owned by the login');
      throw replyError('sender_not_owned', `login ${login} does not own <${mailFrom}>`);
    }
    let free: number;
    try {
      free = await this.spool.freeBytes();
    } catch {
      throw replyError('spool_unavailable');
    }
    if (free < this.settings.minFreeBytes) throw replyError('insufficient_storage');
    this.senders.set(address, mailFrom);
  }

  async rcptTo(address: SMTPServerAddress, session: SMTPServerSession): Promise<void> {
    const { role, table, maxRecipients } = this.settings;
    const repeated = session.envelope.rcptTo.some((r) => r.address.toLowerCase() === address.address.toLowerCase());
    if (!repeated && session.envelope.rcptTo.length >= maxRecipients) throw replyError('too_many_recipients');
    const asksSign = role === 'submission' && address.address.toLowerCase() === this.settings.signAddress;
    const others = session.envelope.rcptTo.filter((r) => !this.signRequests.has(r));
    if (asksSign || others.length < session.envelope.rcptTo.length) {
      if (others.length > 0 || !asksSign)
        throw replyError('bad_sequence', `${this.settings.signAddress} must be the only recipient`);
      return this.signBackRoute(address, session);
    }
    const parsed = checkRecipient(address.address, table.postmasterDomain);
    if (!parsed.ok) throw replyError(parsed.code, parsed.reason);
    const decision = decideRecipient(parsed.address, table, role, Boolean(session.user));
    if (decision.kind === 'reject') throw replyError(decision.code, decision.reason);
    const limit = this.settings.domainLimit(parsed.address.domain);
    if (limit !== undefined && declaredSize(session) > limit)
      throw replyError('message_too_large', `${parsed.address.domain} takes at most ${limit} bytes`);
    let route = decision.kind === 'accept' ? decision.route : undefined;
    if (route?.kind === 'mailbox' || route?.kind === 'postfix') await this.verify(parsed.address, session);
    if (decision.kind === 'remote') {
      try {
        route = remoteRoute(decision.domain, await speaksPmtp(this.resolver, decision.domain));
      } catch (err) {
        throw replyErrorFor(err);
      }
    }
    this.routes.set(address, { rcpt: parsed.address.address, ...route! });
  }

  /** Postmaster is always taken (RFC 5321 4.5.1), as the static lists take it. */
  private async verify(address: MailAddress, session: SMTPServerSession): Promise<void> {
    if (address.local.toLowerCase() === 'postmaster') return;
    const answer = await this.settings.verification.check(address);
    if (answer === 'exists') return;
    this.log.info({ session: session.id, rcpt: address.address, answer }, 'recipient not verified');
    if (answer === 'unknown') throw replyError('unknown_user', `${address.address}: user unknown`);
    throw replyError('recipient_unverified', `${address.address}: lookup failed`);
  }

  /** True when the transaction asks for its message back signed instead of sent. */
  signRequested(session: SMTPServerSession): boolean {
    return session.envelope.rcptTo.some((r) => this.signRequests.has(r));
  }

  /**
   * The signed copy goes to the sender, who must have a mailbox here (native or behind Postfix)
   * and be the login's own: a login allowed any sender must not drop mail into another mailbox.
   */
  private signBackRoute(address: SMTPServerAddress, session: SMTPServerSession): void {
    if (!this.settings.canSign) throw replyError('signing_unavailable');
    const mailFrom = this.senderOf(session);
    const { grants } = this.settings;
    if (grants && !grants.binds(loginOf(session), mailFrom)) throw replyError('sign_back_refused');
    const sender = checkRecipient(mailFrom, undefined);
    const decision = sender.ok ? decideRecipient(sender.address, this.settings.table, 'mx', true) : undefined;
    if (!sender.ok || decision?.kind !== 'accept') throw replyError('sign_back_refused');
    this.signRequests.add(address);
    this.routes.set(address, { rcpt: sender.address.address, ...decision.route });
  }

  /** The normalised MAIL FROM of the session's current transaction. */
  senderOf(session: SMTPServerSession): string {
    const from = session.envelope.mailFrom;
    return from ? (this.senders.get(from) ?? from.address) : '';
  }

  /** The smallest size limit among the accepted recipients' domains: what DATA may bring without SIZE. */
  sizeLimitOf(session: SMTPServerSession): number | undefined {
    const limits = session.envelope.rcptTo
      .map((r) => this.routes.get(r)?.rcpt)
      .flatMap((rcpt) => (rcpt ? [this.settings.domainLimit(rcpt.slice(rcpt.lastIndexOf('@') + 1))] : []))
      .filter((limit): limit is number => limit !== undefined);
    return limits.length > 0 ? Math.min(...limits) : undefined;
  }

  /** Route of every accepted recipient, in RCPT order; a repeated RCPT counts once. */
  routesOf(session: SMTPServerSession): InboundRoute[] {
    return session.envelope.rcptTo.map((r) => {
      const route = this.routes.get(r);
      if (!route) throw new Error(`recipient ${r.address} has no route`);
      return route;
    });
  }
}

/** MAIL FROM's SIZE= (RFC 1870), 0 when absent or not a number. */
function declaredSize(session: SMTPServerSession): number {
  const args = session.envelope.mailFrom ? session.envelope.mailFrom.args : false;
  const size = args ? Number(args.SIZE) : 0;
  return Number.isSafeInteger(size) ? size : 0;
}

/** The account name a submission client logged in as; '' before AUTH, which no account has. */
export function loginOf(session: SMTPServerSession): string {
  return typeof session.user === 'string' ? session.user : '';
}
