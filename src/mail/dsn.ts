// dsn: who may get a delivery status notification, what each recipient's NOTIFY asks for, and the
// RFC 3464 multipart/report text. Pure. A DSN goes to the envelope sender only when we can believe
// that address: the authenticated account on submission, a sender SPF (or aligned DMARC) vouched
// for on mx and relay-in. Never to `<>`, never to a sender that could be forged (no backscatter).

import { randomBytes } from 'node:crypto';
import type { DsnNotify, MessageDsn, SpoolRecord } from './spool-records.js';
import { rfc5322Date } from './trace-fields.js';

/** Queues a composed DSN `message` for `to`; resolves with where it went (a queue id, or `maildir`). */
export type DsnSink = (to: string, message: Buffer) => Promise<string>;

/** Where a DSN may go, or why none may be sent (for the log line that says it was withheld). */
export type DsnTarget =
  | { readonly to: string; readonly withheld?: undefined }
  | { readonly to?: undefined; readonly withheld: string };

const mailbox = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;

/**
 * The address DSNs for this spool entry may go to. Reads the listener facts src/inbound-smtp
 * writes: `client.role`, `client.user` (the authenticated account) and the sender verdict.
 * - `MAIL FROM:<>`: none, ever (RFC 3461 §6.2: a DSN is never answered).
 * - submission: the authenticated account when it is an address (the envelope sender is what
 *   the client typed; the account is what it proved).
 * - mx and relay-in: the envelope sender, when SPF passed for it, or DMARC passed aligned with a
 *   From domain that is the sender's domain or its parent. relay-in with `sender_auth: skip`
 *   means the operator vouches for the relay clients: the envelope sender.
 * Mail that was not born over SMTP (PMTP, DSNs themselves) never gets one here.
 */
export function dsnTarget(meta: SpoolRecord): DsnTarget {
  if (meta.kind !== 'smtp') return { withheld: `${meta.kind} mail gets no DSN` };
  const sender = meta.envelope.mailFrom;
  if (sender === '') return { withheld: 'null sender' };
  const { client, senderAuth } = meta;
  if (client.role === 'submission' || (client.role === 'relay-in' && client.user !== null)) {
    if (client.user === null) return { withheld: 'no authenticated account' };
    // an account name that is not an address has no mailbox we could prove is its own
    return mailbox.test(client.user)
      ? { to: client.user }
      : { withheld: `account ${client.user} is not a mail address` };
  }
  if (!mailbox.test(sender)) return { withheld: 'the envelope sender is not a mail address' };
  if (client.role === 'relay-in' && senderAuth.mode === 'skip') return { to: sender };
  const verdict = senderAuth.verdict;
  if (!verdict) return { withheld: 'sender not checked (sender_auth: skip)' };
  if (verdict.spf === 'pass') return { to: sender };
  const senderDomain = sender.slice(sender.lastIndexOf('@') + 1).toLowerCase();
  const from = verdict.fromDomain?.toLowerCase();
  if (verdict.dmarc === 'pass' && from && (senderDomain === from || senderDomain.endsWith(`.${from}`)))
    return { to: sender };
  return { withheld: `sender not authenticated (SPF ${verdict.spf}, DMARC ${verdict.dmarc})` };
}

/** The address a DSN for this entry may go to, or undefined (see dsnTarget). */
export function dsnRecipient(meta: SpoolRecord): string | undefined {
  return dsnTarget(meta).to;
}

/** RFC 3464 §2.3.3; `expanded` is not used: we never expand lists. */
export type DsnAction = 'failed' | 'delayed' | 'delivered' | 'relayed';

/**
 * Whether a recipient's NOTIFY asks for a DSN of this kind. Without NOTIFY (RFC 3461 §4.1) we
 * report failures and delays, like Postfix; successes only on request; NEVER silences all.
 */
export function notifyAllows(notify: readonly DsnNotify[] | undefined, action: DsnAction): boolean {
  if (notify === undefined) return action === 'failed' || action === 'delayed';
  if (notify.includes('NEVER')) return false;
  if (action === 'failed') return notify.includes('FAILURE');
  if (action === 'delayed') return notify.includes('DELAY');
  return notify.includes('SUCCESS');
}

/** An enhanced status whose class matches the action: failed 5.x.x, delayed 4.x.x, success 2.0.0. */
export function statusForAction(action: DsnAction, enhanced: string | undefined): string {
  if (action === 'delivered' || action === 'relayed') return '2.0.0';
  const klass = action === 'failed' ? '5' : '4';
  const match = /^[245]\.(\d{1,3}\.\d{1,3})$/.exec(enhanced ?? '');
  return `${klass}.${match?.[1] ?? '0.0'}`;
}

export interface RecipientReport {
  readonly recipient: string;
  readonly action: DsnAction;
  /** enhanced status code, e.g. `5.1.1` */
  readonly status: string;
  /** the remote reply verbatim, or our own reason when there was no reply */
  readonly diagnostic?: string;
  /** diagnostic-type of Diagnostic-Code: `smtp` unless said (e.g. `x-pmtp`) */
  readonly diagnosticType?: string;
  /** the SMTP host (`host:port`) or PMTP domain that gave the answer */
  readonly remoteMta?: string;
  /** ORCPT decoded, `addr-type;address` */
  readonly originalRecipient?: string;
  /** delayed: until when we keep trying */
  readonly willRetryUntil?: Date;
}

/**
 * The reports recipients asked for: each outcome whose NOTIFY allows its action, with the
 * recipient's ORCPT as Original-Recipient. `dsn` is the record's DSN parameters.
 */
export function requestedReports(dsn: MessageDsn | undefined, outcomes: readonly RecipientReport[]): RecipientReport[] {
  return outcomes.flatMap((outcome) => {
    const asked = dsn?.recipients?.[outcome.recipient];
    if (!notifyAllows(asked?.notify, outcome.action)) return [];
    return [{ ...outcome, ...(asked?.orcpt ? { originalRecipient: asked.orcpt } : {}) }];
  });
}

/** What of the original message the DSN returns: RET=FULL the whole of it, else its header section. */
export type ReturnedContent = { readonly headers: string } | { readonly message: Buffer };

export interface DsnInput {
  /** config.hostname: the Reporting-MTA and the From domain */
  readonly reportingMta: string;
  readonly to: string;
  readonly queueId: string;
  readonly arrivalDate: Date;
  readonly date: Date;
  readonly recipients: readonly RecipientReport[];
  /** ENVID decoded: Original-Envelope-Id */
  readonly envid?: string;
  /** header section with CRLF line ends, or the whole message */
  readonly returned: ReturnedContent;
  readonly boundary?: string;
}

const subjects: Record<'failed' | 'delayed' | 'success', string> = {
  failed: 'Undelivered Mail Returned to Sender',
  delayed: 'Delayed Mail (still being retried)',
  success: 'Successful Mail Delivery Report',
};

const explanations: Record<DsnAction, string> = {
  failed: 'Your message could not be delivered to the following recipients:',
  delayed:
    'Your message could not be delivered yet to the following recipients. The mail system keeps trying; you need not send it again:',
  delivered: 'Your message was delivered to the following recipients:',
  relayed: 'Your message was passed on to a system that sends no further notifications, for these recipients:',
};

/** The whole DSN message, ready to spool. Header values are ours; remote text is made one line. */
export function composeDsn(input: DsnInput): Buffer {
  const boundary = input.boundary ?? `mailbridge-dsn-${randomBytes(12).toString('hex')}`;
  const messageId = `<${input.queueId}.dsn.${input.date.getTime()}@${input.reportingMta}>`;
  const reports = input.recipients;
  const actions = new Set(reports.map((r) => r.action));
  const subject = actions.has('failed')
    ? subjects.failed
    : actions.has('delayed')
      ? subjects.delayed
      : subjects.success;
  const human = [`This is the mail system at ${input.reportingMta}.`, ''];
  for (const action of ['failed', 'delayed', 'delivered', 'relayed'] as const) {
    const some = reports.filter((r) => r.action === action);
    if (some.length === 0) continue;
    human.push(explanations[action], '');
    for (const r of some) {
      const until = r.willRetryUntil ? ` (trying until ${rfc5322Date(r.willRetryUntil)})` : '';
      human.push(`  <${oneLine(r.recipient)}>: ${oneLine(r.diagnostic ?? r.status)}${until}`);
    }
    human.push('');
  }
  // RFC 3464 §2.2: Original-Envelope-Id first, extension fields last
  const perMessage = [
    ...(input.envid ? [`Original-Envelope-Id: ${oneLine(input.envid)}`] : []),
    `Reporting-MTA: dns; ${input.reportingMta}`,
    `Arrival-Date: ${rfc5322Date(input.arrivalDate)}`,
    `X-Mailbridge-Queue-ID: ${input.queueId}`,
  ];
  const perRecipient = reports.map((r) =>
    [
      ...(r.originalRecipient ? [`Original-Recipient: ${oneLine(r.originalRecipient)}`] : []),
      `Final-Recipient: rfc822; ${oneLine(r.recipient)}`,
      `Action: ${r.action}`,
      `Status: ${r.status}`,
      ...(r.remoteMta ? [`Remote-MTA: dns; ${oneLine(r.remoteMta)}`] : []),
      ...(r.diagnostic ? [`Diagnostic-Code: ${r.diagnosticType ?? 'smtp'}; ${oneLine(r.diagnostic)}`] : []),
      ...(r.willRetryUntil ? [`Will-Retry-Until: ${rfc5322Date(r.willRetryUntil)}`] : []),
    ].join('\r\n'),
  );
  const returned = input.returned;
  const head = [
    `From: Mail Delivery System <MAILER-DAEMON@${input.reportingMta}>`,
    `To: <${input.to}>`,
    `Subject: ${subject}`,
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
  ];
  // each part's content ends with a line end of its own, then the delimiter's CRLF
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8');
  const crlf = Buffer.from('\r\n');
  if ('message' in returned) {
    const original = returned.message.subarray(0, trimmedLength(returned.message));
    // message/rfc822 allows only 7bit, 8bit or binary (RFC 2046 §5.2.1)
    const eightBit = original.some(
      (byte) => byte > 0x7e || (byte < 0x20 && byte !== 0x0d && byte !== 0x0a && byte !== 0x09),
    );
    const partHead = [
      'Content-Type: message/rfc822',
      ...(eightBit ? ['Content-Transfer-Encoding: 8bit'] : []),
      `Content-Description: ${actions.has('failed') ? 'Undelivered Message' : 'Message'}`,
      '',
      '',
    ];
    return Buffer.concat([Buffer.from([...head, ...partHead].join('\r\n'), 'utf8'), original, crlf, tail]);
  }
  const headers = [
    'Content-Type: text/rfc822-headers',
    `Content-Description: ${actions.has('failed') ? 'Undelivered Message Headers' : 'Message Headers'}`,
    '',
    returned.headers.replace(/(\r\n)+$/, ''),
    '',
  ];
  return Buffer.concat([Buffer.from([...head, ...headers].join('\r\n'), 'utf8'), tail]);
}

/** Length of `bytes` without trailing line ends: the part ends with exactly one. */
function trimmedLength(bytes: Buffer): number {
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d)) end--;
  return end;
}

/** Remote replies can span lines; a DSN field cannot, and no value may start a new header. */
function oneLine(text: string): string {
  return text
    .replace(/\s*\r?\n\s*/g, ' ')
    .replace(/[\x00-\x1f\x7f]/g, '')
    .trim();
}
