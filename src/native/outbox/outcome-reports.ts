// Origin-side DSNs for SMTP-born mail that went over PMTP. The SMTP entry is gone after the
// hand-off, so the outbox record carries its DSN facts (`smtp`): to whom a DSN may go, RET,
// ENVID, each recipient's NOTIFY and ORCPT, the SMTP queue id. When recipients reach a final
// state (rejected, expired, given up; delivered for NOTIFY=SUCCESS) the code that moved them
// calls reportOutcomes; the expiry job, woken early, calls reportDelay. A ledger claim per recipient and
// kind makes each report once, whichever job, route or retry sees the state first.

import { Readable } from 'node:stream';
import { isStatusCode, statusOf } from '../../codes.js';
import { composeDsn, type RecipientReport, requestedReports, statusForAction } from '../../mail/dsn.js';
import type { OutboxRecord, SmtpOrigin } from '../../mail/spool-records.js';
import { returnedContent } from '../../translate/returned-content.js';
import type { PmtpContext } from '../pmtp-context.js';
import { isFinal, type RecipientState } from '../protocol/recipient-state.js';
import type { PmtpRecipientStatus } from '../state/pmtp-status.js';

/** The parts of the PMTP context this file uses. */
export type OutcomeReportDeps = Pick<
  PmtpContext,
  'config' | 'dsnLedger' | 'log' | 'nowMs' | 'queues' | 'sendDsn' | 'spool' | 'status'
>;

export interface OutboxEntry {
  readonly queueId: string;
  readonly meta: OutboxRecord;
}

/** Final states that mean the message did not reach the recipient; `retracted` is the sender's own doing. */
const FAILED: ReadonlySet<RecipientState> = new Set(['rejected', 'expired', 'given-up']);

/**
 * Sends the DSN for recipients of this copy that are final and not yet reported: failed ones,
 * and delivered ones that asked NOTIFY=SUCCESS. Throws when the DSN could not be queued (its
 * claim is released first), so a job retries; every step before it is idempotent.
 */
export async function reportOutcomes(rt: OutcomeReportDeps, entry: OutboxEntry): Promise<void> {
  const smtp = entry.meta.smtp;
  if (!smtp) return;
  const outcomes = (await current(rt, entry)).flatMap((s): RecipientReport[] => {
    if (s.state === 'delivered')
      return [
        {
          recipient: s.recipient,
          action: 'delivered',
          status: '2.0.0',
          remoteMta: s.domain,
          diagnosticType: 'x-pmtp',
          diagnostic: `delivered, acknowledged by ${s.domain}`,
        },
      ];
    if (!FAILED.has(s.state)) return [];
    return [
      {
        recipient: s.recipient,
        action: 'failed',
        status: statusForAction('failed', enhancedOf(s)),
        remoteMta: s.domain,
        diagnosticType: 'x-pmtp',
        diagnostic: `${s.state}: ${s.code ? `${s.code}${s.text ? ` ${s.text}` : ''}` : `no decision from ${s.domain} in time`}`,
      },
    ];
  });
  await send(rt, entry, smtp, requestedReports(smtp, outcomes), 'final');
}

/** The delay warning: recipients still undecided get one "delayed" DSN, NOTIFY permitting. */
export async function reportDelay(rt: OutcomeReportDeps, entry: OutboxEntry): Promise<number> {
  const smtp = entry.meta.smtp;
  if (!smtp || rt.config.queues.delay_warning_s <= 0) return 0;
  const willRetryUntil = new Date(entry.meta.pmtp.expires * 1000);
  const outcomes = (await current(rt, entry))
    .filter((s) => !isFinal(s.state))
    .map(
      (s): RecipientReport => ({
        recipient: s.recipient,
        action: 'delayed',
        status: statusForAction('delayed', s.code && isStatusCode(s.code) ? statusOf(s.code).enhanced : '4.4.1'),
        remoteMta: s.domain,
        diagnosticType: 'x-pmtp',
        diagnostic: `${s.state}: ${s.domain} has not taken the message yet`,
        willRetryUntil,
      }),
    );
  return send(rt, entry, smtp, requestedReports(smtp, outcomes), 'delay');
}

/** This copy's recipients, at its version. */
async function current(rt: OutcomeReportDeps, entry: OutboxEntry): Promise<PmtpRecipientStatus[]> {
  const { id, version } = entry.meta.pmtp;
  return (await rt.status.get(id)).filter((s) => s.version === version);
}

function enhancedOf(s: PmtpRecipientStatus): string {
  if (s.code && isStatusCode(s.code)) return statusOf(s.code).enhanced;
  return s.state === 'rejected' ? '5.0.0' : '5.4.7';
}

async function send(
  rt: OutcomeReportDeps,
  entry: OutboxEntry,
  smtp: SmtpOrigin,
  reports: readonly RecipientReport[],
  kind: 'final' | 'delay',
): Promise<number> {
  if (reports.length === 0 || !rt.sendDsn) return 0;
  const { id, version } = entry.meta.pmtp;
  const scope = `pmtp:${id}:${version}`;
  const item = (r: RecipientReport) => `${kind}:${r.recipient}`;
  const claimed = new Set(await rt.dsnLedger.claim(scope, reports.map(item)));
  const mine = reports.filter((r) => claimed.has(item(r)));
  if (mine.length === 0) return 0;
  const items = mine.map(item);
  const log = rt.log.child({ queueId: smtp.queueId, id });
  if (!smtp.to) {
    log.info({ withheld: smtp.withheld, recipients: mine.map((r) => r.recipient) }, 'DSN withheld');
    await rt.dsnLedger.sent(scope, items);
    return 0;
  }
  try {
    const returned = await returnedContent(() => openOriginal(rt, entry), smtp.ret === 'FULL');
    const dsnQueueId = await rt.sendDsn(
      smtp.to,
      composeDsn({
        reportingMta: rt.config.hostname,
        to: smtp.to,
        queueId: smtp.queueId,
        arrivalDate: new Date(Date.parse(smtp.arrivedAt)),
        date: new Date(rt.nowMs()),
        recipients: mine,
        ...(smtp.envid ? { envid: smtp.envid } : {}),
        returned,
      }),
    );
    await rt.dsnLedger.sent(scope, items);
    log.info({ to: smtp.to, dsnQueueId, recipients: mine.map((r) => r.recipient), kind }, 'DSN queued');
    return mine.length;
  } catch (err) {
    await rt.dsnLedger.release(scope, items).catch(() => undefined);
    throw err;
  }
}

/** The original RFC 5322 bytes: the copy's `original-rfc5322` part, else the manifest's header fields. */
async function openOriginal(rt: OutcomeReportDeps, entry: OutboxEntry): Promise<Readable> {
  const parts = entry.meta.pmtp.manifest.parts;
  const index = parts.findIndex((p) => p.role === 'original-rfc5322');
  const part = parts[index];
  if (!part || part.length === 0) {
    const headers = entry.meta.pmtp.manifest.headers.map(([name, value]) => `${name}: ${value}\r\n`).join('');
    return Readable.from([Buffer.from(`${headers}\r\n`, 'utf8')]);
  }
  const start = parts.slice(0, index).reduce((n, p) => n + p.length, 0);
  return (await rt.spool.openBody(entry.queueId, { start, end: start + part.length - 1 })).stream;
}
