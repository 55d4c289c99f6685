// Spool records for tests, whole as src/ writes them: the spool validates every record it reads
// (src/mail/spool-records.ts), so a fixture must be one a listener, the outbox or a pull could write.
import type {
  DsnRecord,
  Envelope,
  InboundRoute,
  PulledForPostfixRecord,
  SmtpRecord,
} from '../../src/mail/spool-records.js';

export interface SmtpRecordOptions {
  readonly envelope: Envelope;
  readonly role?: 'mx' | 'submission' | 'relay-in';
  /** the authenticated account, for submission and relay-in */
  readonly user?: string | null;
  readonly createdAt?: string;
  /** each recipient's route; every recipient goes to the legacy internet when absent */
  readonly routes?: readonly InboundRoute[];
}

/** What an SMTP listener stores: client facts, routes and the trace fields to prepend. */
export function smtpRecord(options: SmtpRecordOptions): Omit<SmtpRecord, 'queueId'> {
  const user = options.user ?? null;
  const protocol = user ? 'ESMTPA' : 'ESMTP';
  const domainOf = (rcpt: string) => rcpt.slice(rcpt.lastIndexOf('@') + 1).toLowerCase();
  return {
    kind: 'smtp',
    queue: 'inbound',
    createdAt: options.createdAt ?? new Date().toISOString(),
    envelope: options.envelope,
    client: {
      ip: '127.0.0.1',
      helo: 'client.example',
      peer: '127.0.0.1',
      role: options.role ?? 'mx',
      user,
      tls: false,
      protocol,
    },
    routes: [
      ...(options.routes ??
        options.envelope.rcptTo.map((rcpt) => ({ rcpt, kind: 'internet' as const, domain: domainOf(rcpt) }))),
    ],
    senderAuth: { mode: 'skip', verdict: null },
    authenticationResults: 'Authentication-Results: gw.example.org; spf=none smtp.mailfrom=example.org\r\n',
    received: `Received: from client.example ([127.0.0.1])\r\n\tby gw.example.org (mailbridge) with ${protocol} id INBOUND;\r\n\tTue, 02 Jan 2024 03:04:05 +0000\r\n`,
    arcSet: '',
    signBack: false,
    quarantine: false,
    body: { size: 0, type: '7bit', smtputf8: false },
  };
}

/** What the pull side stores for a mailbox behind Postfix: pulled PMTP mail written as RFC 5322. */
export function pulledForPostfixRecord(
  envelope: Envelope,
  createdAt = new Date().toISOString(),
): Omit<PulledForPostfixRecord, 'queueId'> {
  return {
    kind: 'pmtp',
    queue: 'outbound',
    createdAt,
    envelope,
    pmtp: { id: 'm1', version: 1, origin: 'origin.example', trustClass: 'new-verified' },
  };
}

/** A DSN the gateway composed: null sender, queued straight for outbound delivery. */
export function dsnRecord(to: string, createdAt = new Date().toISOString()): Omit<DsnRecord, 'queueId'> {
  return { kind: 'dsn', queue: 'outbound', createdAt, envelope: { mailFrom: '', rcptTo: [to] } };
}
