// The DATA stage, in order: stream into a spool draft through hygiene and limits; run sender
// checks on the spooled file; apply the DMARC verdict; hand draft and meta to the acceptor.
// The 250 (`Ok: queued as <id>`) exists only once `accept` resolved; every failure discards.

import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { MailbridgeError, smtpReply } from '../codes.js';
import type { MailResolver } from '../dns/resolver.js';
import type { Logger } from '../log.js';
import type { MessageAcceptor } from '../queue/accept.js';
import type { Spool, SpoolDraft } from '../spool/spool.js';
import { authenticationResults, submissionResults } from './authentication-results.js';
import { receiveMessage, type IntakeSettings } from './data-intake.js';
import type { EnvelopeChecks } from './envelope-checks.js';
import type { InboundSmtpMeta, SenderAuthMode } from './inbound-meta.js';
import type { ListenerRole } from './recipient-routing.js';
import { replyError, replyErrorFor } from './reply-error.js';
import { authenticateSender } from './sender-authentication.js';
import { senderVerdict, type SenderVerdict } from './sender-verdict.js';

export interface AcceptanceSettings {
  readonly role: ListenerRole;
  readonly senderAuth: SenderAuthMode;
  /** our host name: authserv-id in Authentication-Results */
  readonly mta: string;
  readonly intake: IntakeSettings;
}

export interface AcceptanceDeps {
  readonly acceptor: Pick<MessageAcceptor, 'accept'>;
  readonly spool: Pick<Spool, 'draft'>;
  readonly resolver: MailResolver;
  readonly log: Logger;
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
      const meta = await this.judge(draft, session, intake.size);
      handedOver = true; // from here the acceptor owns the draft, and cleans up on failure
      const entry = await this.deps.acceptor.accept(draft, meta);
      return smtpReply('queued', `Ok: queued as ${entry.queueId}`).message;
    } catch (err) {
      if (!handedOver) await draft.discard().catch(() => undefined);
      this.deps.log.info({ session: session.id, ip: session.remoteAddress, err: err instanceof MailbridgeError ? err.message : err }, 'message refused');
      throw err instanceof MailbridgeError ? replyErrorFor(err) : isReply(err) ? err : replyError('internal_error');
    }
  }

  private async judge(draft: SpoolDraft, session: SMTPServerSession, size: number): Promise<InboundSmtpMeta> {
    const { mta, senderAuth, role } = this.settings;
    const ip = clientIp(session);
    const helo = session.hostNameAppearsAs || '';
    const mailFrom = this.envelope.senderOf(session);
    const user = typeof session.user === 'string' ? session.user : null;
    let verdict: SenderVerdict | null = null;
    let results: string;
    if (senderAuth === 'skip') {
      results = user ? submissionResults(mta, user) : `Authentication-Results: ${mta}; none\r\n`;
    } else {
      const outcome = await authenticateSender(draft.bodyPath, { ip, helo, mailFrom, mta }, this.deps.resolver);
      verdict = senderVerdict(outcome);
      results = authenticationResults(mta, outcome, verdict);
      if (senderAuth === 'enforce' && verdict.action === 'reject') throw replyError('dmarc_reject', verdict.reason);
      if (senderAuth === 'enforce' && verdict.action === 'tempfail') throw replyError('auth_temp_error', verdict.reason);
    }
    const routes = this.envelope.routesOf(session);
    return {
      kind: 'smtp',
      queue: 'inbound',
      createdAt: new Date().toISOString(),
      envelope: { mailFrom, rcptTo: routes.map((r) => r.rcpt) },
      client: {
        ip,
        helo,
        peer: String(session.xForward.get('ADDR:DEFAULT') ?? session.remoteAddress),
        role,
        user,
        tls: session.secure,
        protocol: session.transmissionType,
      },
      routes,
      senderAuth: { mode: senderAuth, verdict },
      authenticationResults: results,
      quarantine: verdict?.action === 'quarantine',
      body: { size, type: session.envelope.bodyType ?? '7bit', smtputf8: Boolean(session.envelope.smtpUtf8) },
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
