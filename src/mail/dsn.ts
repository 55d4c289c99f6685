// dsn: who may get a delivery status notification, and its RFC 3464 multipart/report text. Pure.
// Only mail that came in over authenticated submission or relay-in earns one, and then only to
// the authenticated account: never to an envelope sender anyone could have forged (no backscatter).

import { randomBytes } from 'node:crypto';
import type { SpoolRecord } from './spool-records.js';
import { rfc5322Date } from './trace-fields.js';

/** Queues a composed DSN `message` for `to`; resolves with where it went (a queue id, or `maildir`). */
export type DsnSink = (to: string, message: Buffer) => Promise<string>;

/** Roles whose clients proved who they are before we took their mail. */
const authenticatedRoles = new Set(['submission', 'relay-in']);

/**
 * The address a DSN for this spool entry may go to, or undefined when none may be sent.
 * Reads the listener facts src/inbound-smtp writes: `client.role` and `client.user` (the
 * authenticated account). Mail without them (PMTP-born, DSNs themselves) never gets one.
 */
export function dsnRecipient(meta: SpoolRecord): string | undefined {
  if (meta.kind !== 'smtp') return undefined;
  const { client } = meta;
  if (!authenticatedRoles.has(client.role) || client.user === null) return undefined;
  // an account name that is not an address has no mailbox we could prove is its own
  return /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/.test(client.user) ? client.user : undefined;
}

export interface FailedRecipient {
  readonly recipient: string;
  /** enhanced status code, e.g. `5.1.1` */
  readonly status: string;
  /** the remote reply verbatim, or our own reason when there was no reply */
  readonly diagnostic: string;
  /** `host:port` that gave the reply */
  readonly remoteMta?: string;
}

export interface DsnInput {
  /** config.hostname: the Reporting-MTA and the From domain */
  readonly reportingMta: string;
  readonly to: string;
  readonly queueId: string;
  readonly arrivalDate: Date;
  readonly date: Date;
  readonly failed: readonly FailedRecipient[];
  /** the original message's header section, CRLF line ends, ending with an empty line */
  readonly originalHeaders: string;
  readonly boundary?: string;
}

/** The whole DSN message, ready to spool. Header values are ours; remote text is made one line. */
export function composeDsn(input: DsnInput): Buffer {
  const boundary = input.boundary ?? `mailbridge-dsn-${randomBytes(12).toString('hex')}`;
  const messageId = `<${input.queueId}.dsn.${input.date.getTime()}@${input.reportingMta}>`;
  const human = [
    `This is the mail system at ${input.reportingMta}.`,
    '',
    'Your message could not be delivered to the following recipients:',
    '',
    ...input.failed.map((f) => `  <${oneLine(f.recipient)}>: ${oneLine(f.diagnostic)}`),
    '',
  ];
  const perMessage = [
    `Reporting-MTA: dns; ${input.reportingMta}`,
    `X-Mailbridge-Queue-ID: ${input.queueId}`,
    `Arrival-Date: ${rfc5322Date(input.arrivalDate)}`,
  ];
  const perRecipient = input.failed.map((f) =>
    [
      `Final-Recipient: rfc822; ${oneLine(f.recipient)}`,
      'Action: failed',
      `Status: ${f.status}`,
      ...(f.remoteMta ? [`Remote-MTA: dns; ${f.remoteMta}`] : []),
      `Diagnostic-Code: smtp; ${oneLine(f.diagnostic)}`,
    ].join('\r\n'),
  );
  const lines = [
    `From: Mail Delivery System <MAILER-DAEMON@${input.reportingMta}>`,
    `To: <${input.to}>`,
    'Subject: Undelivered Mail Returned to Sender',
    `Date: ${rfc5322Date(input.date)}`,
    `Message-ID: ${messageId}`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    'This is a MIME-encapsulated message.',
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    ...human,
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    '',
    [perMessage.join('\r\n'), ...perRecipient].join('\r\n\r\n'),
    '',
    `--${boundary}`,
    'Content-Type: text/rfc822-headers',
    '',
    input.originalHeaders.replace(/(\r\n)+$/, ''),
    '',
    `--${boundary}--`,
    '',
  ];
  return Buffer.from(lines.join('\r\n'), 'utf8');
}

/** Remote replies can span lines; a DSN field cannot, and no value may start a new header. */
function oneLine(text: string): string {
  return text
    .replace(/\s*\r?\n\s*/g, ' ')
    .replace(/[\x00-\x1f\x7f]/g, '')
    .trim();
}
