// The DATA stage, in order: stream into a spool draft through hygiene and limits; on submission,
// check From:/Sender: against the login's senders; sign it back if asked; run sender checks on
// the spooled file; apply the DMARC verdict; seal (ARC); build the trace fields; hand draft and
// meta to the acceptor. The 250 exists only once `accept` resolved.

import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { MailbridgeError, smtpReply } from '../codes.js';
import type { MailResolver } from '../dns/resolver.js';
import type { Logger } from '../log.js';
import type { SenderAuthMode, SenderVerdict, SmtpRecord } from '../mail/spool-records.js';
import { inboundReceived } from '../mail/trace-fields.js';
import type { TrafficLedger } from '../observability/traffic-ledger.js';
import type { SenderPolicy } from '../policy/live-accounts.js';
import type { MessageAcceptor } from '../queue/accept.js';
import type { Spool, SpoolDraft } from '../spool/spool.js';
import type { ArcSealer } from './arc-seal.js';
import { authenticationResults, submissionResults } from './authentication-results.js';
import { type IntakeSettings, receiveMessage } from './data-intake.js';
import { sessionDsn } from './dsn-parameters.js';
import { type EnvelopeChecks, loginOf } from './envelope-checks.js';
import { checkHeaderSenders } from './header-senders.js';
import type { ListenerRole } from './recipient-routing.js';
import { replyError, replyErrorFor } from './reply-error.js';
import { authenticateSender } from './sender-authentication.js';
import { senderVerdict } from './sender-verdict.js';
import type { SignBack } from './sign-back.js';

export interface AcceptanceSettings {
  readonly role: ListenerRole;
  readonly senderAuth: SenderAuthMode;
  /** our host name: authserv-id in Authentication-Results */
  readonly mta: string;
  readonly intake: IntakeSettings;
  /** present when config has `arc` */
  readonly sealer: ArcSealer | undefined;
  /** present when config has `dkim` */
  readonly signBack: SignBack | undefined;
  /** submission only: the senders each login may use in From: and Sender: */
  readonly grants: SenderPolicy | undefined;
}

export interface AcceptanceDeps {
  readonly acceptor: Pick<MessageAcceptor, 'accept'>;
  readonly spool: Pick<Spool, 'draft'>;
  readonly resolver: MailResolver;
  readonly log: Logger;
  /** the migration ledger: mail that reached us over SMTP, by sender domain */
  readonly traffic?: Pick<TrafficLedger, 'record'>;
}

export class MessageAcceptance {
  constructor(
    private readonly settings: AcceptanceSettings,
    private readonly deps: AcceptanceDeps,
    private readonly envelope: EnvelopeChecks,
  ) {}

  /** Resolves to the 250 text; rejects with a reply error (the draft is gone by then). */
  async accept(stream: SMTPServerDataStream, session: SMTPServerSession, onTooSlow: () => void): Promise<string> {
    let draft: SpoolDraft;
    try {
      draft = await this.deps.spool.draft();
    } catch {
      stream.resume();
      throw replyError('spool_unavailable');
    }
    let handedOver = false;
    try {
      const intake = await receiveMessage(stream, draft, this.settings.intake, onTooSlow);
      if (!intake.ok) throw intake.error;
      const domainLimit = this.envelope.sizeLimitOf(session);
      // without SIZE, a recipient domain's smaller limit is found only now: refused whole, before the 250
      if (domainLimit !== undefined && intake.size > domainLimit)
        throw replyError('message_too_large', `a recipient's domain takes at most ${domainLimit} bytes`);
      const { grants, intake: limits } = this.settings;
      if (grants) await checkHeaderSenders(draft.bodyPath, limits.maxHeaderBytes, grants, loginOf(session));
      const signBack = this.envelope.signRequested(session);
      if (signBack) draft = await this.sign(draft);
      const meta = await this.judge(draft, session, intake.size, signBack);
      handedOver = true; // from here the acceptor owns the draft, and cleans up on failure
      const entry = await this.deps.acceptor.accept(draft, meta);
      // Postfix's "QUEUEID: client=…" and "message-id=…" in one line: grep the queue id, find the client
      this.deps.log.info(
        {
          queueId: entry.queueId,
          session: session.id,
          client: session.remoteAddress,
          helo: session.hostNameAppearsAs,
          tls: session.secure,
          ...(session.user ? { user: session.user } : {}),
          ...(intake.messageId ? { messageId: intake.messageId } : {}),
        },
        'queued',
      );
      this.recordTraffic(session, intake.size);
      return signBack
        ? smtpReply('signed', `Ok: signed, queued as ${entry.queueId}`).message
        : smtpReply('queued', `Ok: queued as ${entry.queueId}`).message;
    } catch (err) {
      if (!handedOver) await draft.discard().catch(() => undefined);
      // the client's reply is logged as NOQUEUE: reject (session-log.ts); a fault behind it needs its cause too
      const fault = err instanceof MailbridgeError ? err.cause : isReply(err) ? undefined : err;
      if (fault !== undefined)
        this.deps.log.warn(
          { session: session.id, client: session.remoteAddress, err: fault },
          'message refused: fault',
        );
      throw err instanceof MailbridgeError ? replyErrorFor(err) : isReply(err) ? err : replyError('internal_error');
    }
  }

  /** Mail from outside (not our own submission users), counted for `mailbridge report` off the reply's path. */
  private recordTraffic(session: SMTPServerSession, size: number): void {
    const from = session.envelope.mailFrom;
    const domain = from ? from.address.slice(from.address.lastIndexOf('@') + 1) : '';
    if (!this.deps.traffic || this.settings.role === 'submission' || !domain) return;
    this.deps.traffic
      .record({ kind: 'message', direction: 'in', protocol: 'smtp', domain, bytes: size }, new Date())
      .catch((err: unknown) => this.deps.log.warn({ err }, 'traffic ledger: not recorded'));
  }

  /** The signed copy replaces the draft; on failure the caller discards the draft it holds. */
  private async sign(draft: SpoolDraft): Promise<SpoolDraft> {
    if (!this.settings.signBack) throw replyError('signing_unavailable');
    let signed: SpoolDraft | undefined;
    try {
      signed = await this.settings.signBack.sign(draft);
    } catch (err) {
      throw new MailbridgeError('spool_unavailable', undefined, { cause: err });
    }
    if (!signed) throw replyError('signing_unavailable', 'no DKIM key for the From: domain');
    return signed;
  }

  private async judge(
    draft: SpoolDraft,
    session: SMTPServerSession,
    size: number,
    signBack: boolean,
  ): Promise<Omit<SmtpRecord, 'queueId'>> {
    const { mta, senderAuth, role, sealer } = this.settings;
    const ip = clientIp(session);
    const helo = session.hostNameAppearsAs || '';
    const mailFrom = this.envelope.senderOf(session);
    const user = typeof session.user === 'string' ? session.user : null;
    let verdict: SenderVerdict | null = null;
    let results: string;
    let arcSet = '';
    if (senderAuth === 'skip') {
      results = user ? submissionResults(mta, user) : `Authentication-Results: ${mta}; none\r\n`;
    } else {
      const outcome = await authenticateSender(draft.bodyPath, { ip, helo, mailFrom, mta }, this.deps.resolver);
      verdict = senderVerdict(outcome);
      results = authenticationResults(mta, outcome, verdict);
      if (senderAuth === 'enforce' && verdict.action === 'reject') throw replyError('dmarc_reject', verdict.reason);
      if (senderAuth === 'enforce' && verdict.action === 'tempfail')
        throw replyError('auth_temp_error', verdict.reason);
      if (sealer) arcSet = await sealer.seal(draft.bodyPath, results, outcome.arc ? outcome.arc.status.result : 'none');
    }
    const routes = this.envelope.routesOf(session);
    const rcptTo = routes.map((r) => r.rcpt);
    const now = new Date();
    const peer = String(session.xForward.get('ADDR:DEFAULT') ?? session.remoteAddress);
    const protocol = session.transmissionType;
    const dsn = sessionDsn(session, rcptTo);
    return {
      kind: 'smtp',
      queue: 'inbound',
      createdAt: now.toISOString(),
      envelope: { mailFrom, rcptTo },
      client: { ip, helo, peer, role, user, tls: session.secure, protocol },
      routes,
      senderAuth: { mode: senderAuth, verdict },
      authenticationResults: results,
      received: inboundReceived({
        by: mta,
        queueId: draft.queueId,
        helo,
        ip,
        peer,
        protocol,
        recipients: rcptTo,
        date: now,
      }),
      arcSet,
      signBack,
      quarantine: verdict?.action === 'quarantine',
      body: { size, type: session.envelope.bodyType ?? '7bit', smtputf8: Boolean(session.envelope.smtpUtf8) },
      ...(dsn ? { dsn } : {}),
    };
  }
}

/** The client the checks judge: XFORWARD ADDR (smtp-server puts it in remoteAddress) or the socket peer. */
function clientIp(session: SMTPServerSession): string {
  return session.remoteAddress.replace(/^IPv6:/i, '');
}

function isReply(err: unknown): err is Error & { responseCode: number } {
  return err instanceof Error && typeof (err as { responseCode?: unknown }).responseCode === 'number';
}
