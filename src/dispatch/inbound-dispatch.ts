// The `inbound` stage, like Postfix's qmgr: takes mail accepted over SMTP and hands each recipient
// to its next owner: mailboxes here, the PMTP outbox for remote PMTP domains, and the `outbound`
// queue for Postfix and legacy-internet recipients. It re-runs no check. DSNs for what ends here:
// mailbox deliveries a recipient's NOTIFY=SUCCESS asks about, and mail PMTP can never carry.

import { Readable } from 'node:stream';
import { UnrecoverableError } from 'bullmq';
import { statusOf } from '../codes.js';
import { forMessage, type Logger } from '../log.js';
import {
  composeDsn,
  type DsnSink,
  dsnTarget,
  type RecipientReport,
  requestedReports,
  statusForAction,
} from '../mail/dsn.js';
import type { InboundJob } from '../mail/jobs.js';
import type { MailboxDelivery } from '../mail/mailbox-delivery.js';
import type { InboundRoute, RouteKind, SmtpRecord } from '../mail/spool-records.js';
import { pmtpTrustField, smtpTraceFields } from '../mail/trace-fields.js';
import type { Metrics } from '../observability/metrics.js';
import type { DeliveryStatusStore } from '../queue/delivery-status.js';
import type { MailJob, MailProcessor, MailQueues } from '../queue/queues.js';
import { isQueueId } from '../spool/queue-id.js';
import type { Spool, SpoolEntry } from '../spool/spool.js';
import { withoutFields } from '../translate/header-filter.js';
import { isPmtpToken } from '../translate/header-mapping.js';
import { returnedContent } from '../translate/returned-content.js';
import { TranslateError } from '../translate/translate-error.js';

/** An SMTP-born spool entry, the only kind this stage takes. */
export type SmtpEntry = SpoolEntry & { readonly meta: SmtpRecord };

/** Converts and stores an SMTP-born message for remote PMTP recipients, and queues its notices. */
export type PmtpSubmission = (entry: SmtpEntry, recipients: readonly InboundRoute[]) => Promise<void>;

export interface InboundDispatchDeps {
  readonly spool: Spool;
  readonly queues: MailQueues;
  readonly mailboxes: MailboxDelivery;
  readonly status: DeliveryStatusStore;
  readonly log: Logger;
  /** names this gateway in DSNs */
  readonly hostname: string;
  /** where DSNs go (to whom: mail/dsn.ts dsnTarget); none without it */
  readonly sendDsn?: DsnSink;
  /** absent until the PMTP service runs; PMTP recipients then wait in the queue */
  readonly submitPmtp?: PmtpSubmission;
  /** mailbox deliveries and their arrival-to-delivery latency for /metrics */
  readonly metrics?: Pick<Metrics, 'delivery' | 'deliveryLatency'>;
  readonly now?: () => number;
}

export function createInboundProcessor(deps: InboundDispatchDeps): MailProcessor<'inbound'> {
  const now = deps.now ?? Date.now;
  return async (job: MailJob, data: InboundJob) => {
    const { queueId } = data;
    if (!isQueueId(queueId)) throw new UnrecoverableError(`not a queue id: ${queueId}`);
    const log = forMessage(deps.log, queueId);
    const entry = await deps.spool
      .read(queueId)
      .catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)));
    if (!entry) {
      log.warn('spool entry is gone; nothing to dispatch');
      return { mailbox: 0, pmtp: 0, outbound: 0 };
    }
    const meta = entry.meta;
    if (meta.kind !== 'smtp')
      throw new UnrecoverableError(`spool entry ${queueId} holds ${meta.kind} mail, not SMTP-born mail`);
    const smtpEntry: SmtpEntry = { ...entry, meta };
    const byKind = groupRoutes(meta.routes);
    const done = new Set(data.done ?? []);
    const markDone = async (kind: 'mailbox' | 'pmtp'): Promise<void> => {
      done.add(kind);
      await job.updateData({ ...data, done: [...done] } satisfies InboundJob);
    };

    const mailbox = byKind.get('mailbox') ?? [];
    if (mailbox.length > 0 && !done.has('mailbox')) {
      // PMTP-Trust `smtp`: no PMTP first contact vouches for it, the Authentication-Results above say what was checked
      const trace = [...smtpTraceFields(meta), pmtpTrustField({ trust: 'smtp' })].join('');
      // a sender token is for the PMTP hand-off, never for a mailbox
      const open = async (): Promise<Readable> =>
        Readable.from(withoutFields((await deps.spool.openBody(queueId)).stream, isPmtpToken), { objectMode: false });
      const results = await deps.mailboxes.deliver(
        mailbox.map((r) => r.rcpt),
        trace,
        open,
        queueId,
      );
      const failed = results.filter((r) => !r.delivered);
      await deps.status.queued(
        queueId,
        mailbox.map((r) => r.rcpt),
        new Date(now()),
      );
      const delivered = results.filter((x) => x.delivered && !x.duplicate);
      for (const r of results.filter((x) => x.delivered)) {
        await deps.status.record(
          queueId,
          { recipient: r.recipient, state: 'delivered', reply: `delivered to mailbox`, code: 'ok', host: 'maildir' },
          new Date(now()),
        );
        deps.metrics?.delivery('mailbox', 'delivered');
        deps.metrics?.deliveryLatency((now() - Date.parse(meta.createdAt)) / 1000, 'mailbox');
      }
      if (failed.length > 0)
        throw new Error(`mailbox delivery failed for ${failed.map((f) => `${f.recipient}: ${f.error}`).join('; ')}`);
      // a duplicate is a copy an earlier, crashed attempt had already delivered
      log.info(
        { recipients: mailbox.length, duplicates: results.filter((r) => r.duplicate).length },
        'delivered to mailboxes',
      );
      await markDone('mailbox');
      // NOTIFY=SUCCESS: the copies this run wrote (a crashed run's copies were reported by it, or lost)
      await report(
        deps,
        smtpEntry,
        delivered.map((r) => ({
          recipient: r.recipient,
          action: 'delivered',
          status: '2.0.0',
          diagnostic: 'delivered to mailbox',
        })),
        new Date(now()),
        log,
      ).catch((err: unknown) => log.error({ err }, 'could not queue a DSN'));
    }

    const pmtp = byKind.get('pmtp') ?? [];
    if (pmtp.length > 0 && !done.has('pmtp')) {
      if (!deps.submitPmtp) throw new Error('PMTP service is not running; PMTP recipients wait');
      try {
        await deps.submitPmtp(smtpEntry, pmtp);
        log.info({ recipients: pmtp.length }, 'handed to the PMTP outbox');
      } catch (err) {
        // a message that cannot become PMTP (MIME bomb, bad From) never will: fail it now
        if (!(err instanceof TranslateError)) throw err;
        await failPermanently(
          deps,
          smtpEntry,
          pmtp.map((r) => r.rcpt),
          err,
          now(),
        );
        log.warn({ recipients: pmtp.length, code: err.code, err: err.message }, 'PMTP conversion failed permanently');
      }
      await markDone('pmtp');
    }

    // last: once the outbound stage owns the entry it may remove it when it finishes
    const smtp = [...(byKind.get('postfix') ?? []), ...(byKind.get('internet') ?? [])];
    if (smtp.length > 0) {
      await deps.queues.add('outbound', { queueId, recipients: smtp.map((r) => r.rcpt) });
      log.info({ recipients: smtp.length }, 'queued for SMTP delivery');
    } else {
      await deps.spool.remove(queueId);
    }
    return { mailbox: mailbox.length, pmtp: pmtp.length, outbound: smtp.length };
  };
}

/**
 * Records a final failure and tells the sender with a DSN, when a sender may be told (mail/dsn.ts
 * dsnTarget: an unauthenticated envelope sender is never mailed, no backscatter) and NOTIFY asks.
 */
async function failPermanently(
  deps: InboundDispatchDeps,
  entry: SmtpEntry,
  recipients: readonly string[],
  err: TranslateError,
  nowMs: number,
): Promise<void> {
  const at = new Date(nowMs);
  const status = statusOf(err.code).enhanced;
  const reply = `${status} cannot convert to PMTP: ${err.code}: ${err.message}`;
  await deps.status.queued(entry.queueId, recipients, at);
  for (const recipient of recipients)
    await deps.status.record(entry.queueId, { recipient, state: 'failed', reply, code: err.code }, at);
  await report(
    deps,
    entry,
    recipients.map((recipient) => ({
      recipient,
      action: 'failed',
      status: statusForAction('failed', status),
      diagnostic: reply,
    })),
    at,
    forMessage(deps.log, entry.queueId),
  );
}

/** One DSN for the outcomes whose NOTIFY asks for it, to dsnTarget's address; logs when withheld. */
async function report(
  deps: InboundDispatchDeps,
  entry: SmtpEntry,
  outcomes: readonly RecipientReport[],
  at: Date,
  log: Logger,
): Promise<void> {
  const meta = entry.meta;
  const reports = requestedReports(meta.dsn, outcomes);
  if (reports.length === 0 || !deps.sendDsn) return;
  const target = dsnTarget(meta);
  if (!target.to) {
    log.info({ withheld: target.withheld, recipients: reports.map((r) => r.recipient) }, 'DSN withheld');
    return;
  }
  const returned = await returnedContent(
    async () => (await deps.spool.openBody(entry)).stream,
    meta.dsn?.ret === 'FULL',
  );
  const dsnQueueId = await deps.sendDsn(
    target.to,
    composeDsn({
      reportingMta: deps.hostname,
      to: target.to,
      queueId: entry.queueId,
      arrivalDate: new Date(Date.parse(meta.createdAt)),
      date: at,
      recipients: reports,
      ...(meta.dsn?.envid ? { envid: meta.dsn.envid } : {}),
      returned,
    }),
  );
  log.info({ to: target.to, dsnQueueId, actions: [...new Set(reports.map((r) => r.action))] }, 'DSN queued');
}

function groupRoutes(routes: readonly InboundRoute[]): Map<RouteKind, InboundRoute[]> {
  const groups = new Map<RouteKind, InboundRoute[]>();
  for (const route of routes) groups.set(route.kind, [...(groups.get(route.kind) ?? []), route]);
  return groups;
}
