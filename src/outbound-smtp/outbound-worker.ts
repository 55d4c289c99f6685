// outbound-worker: the BullMQ processor of the `outbound` queue. Delivers one spooled message to
// the recipients still pending, records each result, and retries only the deferred ones: the job
// data shrinks to them before the retry, so a delivered recipient is never sent the mail twice.
// When every recipient is final the spool entry goes; the job fails unrecoverably if any failed.
// DSNs (RFC 3464), as each recipient's NOTIFY asks: failed and expired recipients, successes
// handed to a host that will not report them itself, and one "delayed" warning per message once
// it has waited queues.delay_warning_s (Postfix's delay_warning_time).

import { UnrecoverableError } from 'bullmq';
import type { Config } from '../config/schema.js';
import type { MailResolver } from '../dns/resolver.js';
import { forMessage, type Logger } from '../log.js';
import type { DomainSigners } from '../mail/domain-signers.js';
import {
  composeDsn,
  type DsnSink,
  dsnTarget,
  type RecipientReport,
  requestedReports,
  statusForAction,
} from '../mail/dsn.js';
import type { OutboundJob } from '../mail/jobs.js';
import type { MessageDsn } from '../mail/spool-records.js';
import { pmtpTrustField, receivedHeader, smtpTraceFields } from '../mail/trace-fields.js';
import type { Metrics } from '../observability/metrics.js';
import type { TrafficLedger } from '../observability/traffic-ledger.js';
import type { AttemptResult, DeliveryStatusStore } from '../queue/delivery-status.js';
import type { DsnLedger } from '../queue/dsn-ledger.js';
import { type MailJob, type MailProcessor, retryPolicyFor } from '../queue/queues.js';
import { lifetimeExceeded } from '../queue/retry-policy.js';
import { isQueueId } from '../spool/queue-id.js';
import type { Spool, SpoolEntry } from '../spool/spool.js';
import { authorDomains } from '../translate/author-domains.js';
import { returnedContent } from '../translate/returned-content.js';
import type { HopDsn, RecipientResult, SmtpDelivery } from './deliver.js';
import { type PlannedDelivery, planDeliveries } from './delivery-plan.js';
import type { MtaStsPolicies } from './mta-sts.js';
import { type MessageSource, prepend, spooledBytes } from './outgoing-message.js';
import { enhancedStatus } from './reply-class.js';

export interface OutboundWorkerDeps {
  readonly config: Pick<Config, 'hostname' | 'outbound' | 'domains' | 'queues'>;
  readonly spool: Spool;
  readonly resolver: MailResolver;
  readonly delivery: SmtpDelivery;
  readonly status: DeliveryStatusStore;
  readonly log: Logger;
  /** the translate seam; the spooled bytes as they are by default */
  readonly source?: MessageSource;
  /** signs mail for the legacy internet (relayhost and MX routes), not our own mailboxes */
  readonly dkim?: DomainSigners;
  readonly mtaSts?: MtaStsPolicies;
  /** where DSNs go; no DSNs without it */
  readonly sendDsn?: DsnSink;
  /** remembers the one delay warning per message; no delay warnings without it */
  readonly dsnLedger?: DsnLedger;
  /** per-recipient results and arrival-to-delivery latency for /metrics */
  readonly metrics?: Pick<Metrics, 'delivery' | 'deliveryLatency'>;
  /** the migration ledger: mail that reached a legacy peer domain over SMTP */
  readonly traffic?: Pick<TrafficLedger, 'record'>;
  readonly now?: () => number;
}

export interface OutboundSummary {
  readonly delivered: number;
  readonly failed: number;
  readonly expired: number;
}

const logStatus = {
  delivered: 'sent',
  deferred: 'deferred',
  failed: 'bounced',
  expired: 'expired',
  deleted: 'deleted',
} as const;

/**
 * One line per recipient and attempt, as Postfix's smtp(8) logs it: to, relay, delay (arrival to
 * now) split into time queued and time delivering, the enhanced status code and the reply.
 */
function logDelivery(
  log: Logger,
  r: HostedResult & { state: keyof typeof logStatus },
  times: { arrival: number; started: number; at: number },
): void {
  const seconds = (ms: number) => Math.max(0, ms / 1000).toFixed(2);
  log.info(
    {
      to: r.recipient,
      relay: r.host ?? 'none',
      delay: seconds(times.at - times.arrival),
      delays: `${seconds(times.started - times.arrival)}/${seconds(times.at - times.started)}`,
      dsn: enhancedStatus(r),
      status: logStatus[r.state],
      reply: r.reply,
    },
    'delivery',
  );
}

/** One message per peer domain that took it; our own Postfix-hosted domains are not peers. */
async function recordTraffic(
  deps: OutboundWorkerDeps,
  recorded: readonly { recipient: string; state: string }[],
  bytes: number,
  at: Date,
  log: Logger,
): Promise<void> {
  if (!deps.traffic) return;
  const domains = new Set(
    recorded
      .filter((r) => r.state === 'delivered')
      .map((r) => r.recipient.slice(r.recipient.lastIndexOf('@') + 1).toLowerCase())
      .filter((d) => !Object.hasOwn(deps.config.domains.postfix, d) && !deps.config.domains.mailbox.includes(d)),
  );
  for (const domain of domains)
    await deps.traffic
      .record({ kind: 'message', direction: 'out', protocol: 'smtp', domain, bytes }, at)
      .catch((err: unknown) => log.warn({ err }, 'traffic ledger: not recorded'));
}

export function createOutboundProcessor(deps: OutboundWorkerDeps): MailProcessor<'outbound'> {
  const source = deps.source ?? spooledBytes(deps.spool);
  const now = deps.now ?? Date.now;
  return async (job: MailJob, data: OutboundJob): Promise<OutboundSummary> => {
    const { queueId } = data;
    if (!isQueueId(queueId)) throw new UnrecoverableError(`not a queue id: ${queueId}`);
    const log = forMessage(deps.log, queueId);
    const entry = await deps.spool.read(queueId).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    // gone: a previous run finished every recipient and removed it just before a crash
    if (!entry) {
      log.warn('spool entry is gone; nothing left to deliver');
      return { delivered: 0, failed: 0, expired: 0 };
    }
    const pending = [...new Set(data.recipients ?? entry.meta.envelope.rcptTo)];
    const arrival = arrivalOf(entry, job);
    await deps.status.queued(queueId, pending, new Date(arrival));

    const policy = retryPolicyFor(deps.config, 'outbound');
    const outOfTime = lifetimeExceeded(policy, arrival, now());
    const lastTry = outOfTime || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    const started = now();
    const results = outOfTime
      ? await expiredUnsent(deps.status, queueId, pending)
      : await attempt(deps, source, entry, pending, log);

    const recorded = results.map((r) => ({ ...r, state: stateOf(r, lastTry) }));
    const remaining = recorded.filter((r) => r.state === 'deferred').map((r) => r.recipient);
    // first, so that a retry after any later failure still skips the finished recipients
    await job.updateData({ ...data, recipients: remaining });
    const at = new Date(now());
    for (const r of recorded) {
      await deps.status.record(
        queueId,
        { recipient: r.recipient, state: r.state, reply: r.reply, code: r.code, host: r.host },
        at,
        r.code !== 'lifetime_exceeded',
      );
      logDelivery(log, r, { arrival, started, at: at.getTime() });
      deps.metrics?.delivery('smtp', r.state);
      if (r.state === 'delivered') deps.metrics?.deliveryLatency((at.getTime() - arrival) / 1000, 'smtp');
    }
    await recordTraffic(deps, recorded, entry.size, at, log);
    const undelivered = recorded.filter((r) => r.state === 'failed' || r.state === 'expired');
    await report(deps, entry, recorded, { arrival, at, lifetimeS: policy.lifetime_s }, log);

    if (remaining.length > 0) {
      const first = recorded.find((r) => r.state === 'deferred')!;
      throw new Error(`${remaining.length} recipient(s) deferred: ${first.reply}`);
    }
    await deps.spool.remove(queueId);
    const summary = {
      delivered: recorded.filter((r) => r.state === 'delivered').length,
      failed: recorded.filter((r) => r.state === 'failed').length,
      expired: recorded.filter((r) => r.state === 'expired').length,
    };
    log.info(summary, 'all recipients final; spool entry removed');
    if (undelivered.length > 0)
      throw new UnrecoverableError(`${undelivered.length} recipient(s) undeliverable: ${undelivered[0]!.reply}`);
    return summary;
  };
}

type HostedResult = RecipientResult & {
  readonly host?: string;
  /** delivered: whether the next host reports to the sender itself, or the DSN action is ours */
  readonly handedOn?: 'reports' | 'delivered' | 'relayed';
};

async function attempt(
  deps: OutboundWorkerDeps,
  source: MessageSource,
  entry: SpoolEntry,
  pending: string[],
  log: Logger,
): Promise<HostedResult[]> {
  const plan = await planDeliveries(pending, {
    config: deps.config,
    resolver: deps.resolver,
    mtaSts: deps.mtaSts,
    log,
  });
  for (const r of plan.unroutable)
    log.info({ rcpt: r.recipient, outcome: r.outcome, reply: r.reply }, 'delivery attempt: no route');
  const transactions = plan.deliveries.flatMap((planned) =>
    byHopDsn(entry.meta.kind === 'smtp' ? entry.meta.dsn : undefined, planned.recipients).map((group) => ({
      planned,
      ...group,
    })),
  );
  const delivered = await Promise.all(
    transactions.map(async ({ planned, recipients, dsn }): Promise<HostedResult[]> => {
      const open = () => outgoing(deps, source, entry, planned, pending.length === 1 ? pending[0] : undefined);
      const envelope = { from: entry.meta.envelope.mailFrom, to: recipients, ...(dsn ? { dsn } : {}) };
      const report = await deps.delivery.deliver(planned.route, envelope, open, { verifyTls: planned.verifyTls });
      log.info(
        {
          host: report.host,
          route: planned.route.kind,
          reply: report.results[0]?.reply,
          results: report.results.map((r) => ({ rcpt: r.recipient, outcome: r.outcome, reply: r.reply })),
        },
        'delivery attempt',
      );
      return report.results.map((r) => ({
        ...r,
        host: report.host,
        ...(r.outcome === 'delivered'
          ? { handedOn: report.dsnAdvertised && dsn ? 'reports' : report.lmtp ? 'delivered' : 'relayed' }
          : {}),
      }));
    }),
  );
  return [...plan.unroutable, ...delivered.flat()];
}

/**
 * Recipients of one route split by the DSN parameters a next hop gets (nodemailer sends one
 * NOTIFY and ORCPT for the whole transaction). An ORCPT that only repeats the recipient, as
 * Postfix sends for every recipient, says nothing the next hop does not know and is left out, so
 * mail relayed by Postfix still goes in one transaction per route.
 */
function byHopDsn(
  dsn: MessageDsn | undefined,
  recipients: readonly string[],
): { recipients: string[]; dsn: HopDsn | undefined }[] {
  if (!dsn) return [{ recipients: [...recipients], dsn: undefined }];
  const groups = new Map<string, { recipients: string[]; dsn: HopDsn }>();
  for (const recipient of recipients) {
    const asked = dsn.recipients?.[recipient];
    const orcpt =
      asked?.orcpt && asked.orcpt.toLowerCase() !== `rfc822;${recipient.toLowerCase()}` ? asked.orcpt : undefined;
    const key = `${asked?.notify?.join(',') ?? ''}\n${orcpt ?? ''}`;
    const group = groups.get(key) ?? {
      recipients: [],
      dsn: {
        ...(dsn.ret ? { ret: dsn.ret } : {}),
        ...(dsn.envid ? { envid: dsn.envid } : {}),
        ...(asked?.notify ? { notify: asked.notify } : {}),
        ...(orcpt ? { orcpt } : {}),
      },
    };
    group.recipients.push(recipient);
    groups.set(key, group);
  }
  return [...groups.values()];
}

async function outgoing(
  deps: OutboundWorkerDeps,
  source: MessageSource,
  entry: SpoolEntry,
  planned: PlannedDelivery,
  single: string | undefined,
) {
  const local = planned.route.kind === 'local';
  // the author's own domain signs: a second domain's mail never goes out with the first one's d=
  const signer = deps.dkim && !local ? deps.dkim.signerFor(await authorDomains(await source(entry))) : undefined;
  const message = prepend(traceFor(deps, entry, single, local), await source(entry));
  return signer ? signer.sign(message) : message;
}

/** Out of time before trying again: the last answer each recipient had stays readable. */
async function expiredUnsent(
  status: DeliveryStatusStore,
  queueId: string,
  pending: readonly string[],
): Promise<HostedResult[]> {
  const previous = new Map((await status.get(queueId)).map((s) => [s.recipient, s]));
  return pending.map((recipient) => {
    const last = previous.get(recipient);
    const reply = last?.reply ? `delivery time expired; last reply: ${last.reply}` : 'delivery time expired';
    return { recipient, outcome: 'transient', reply, code: 'lifetime_exceeded', host: last?.host };
  });
}

function stateOf(result: RecipientResult, lastTry: boolean): AttemptResult['state'] {
  if (result.outcome === 'delivered') return 'delivered';
  if (result.outcome === 'permanent') return 'failed';
  return lastTry ? 'expired' : 'deferred';
}

interface ReportTimes {
  readonly arrival: number;
  readonly at: Date;
  readonly lifetimeS: number;
}

/**
 * The DSN for this attempt, as the recipients' NOTIFY asks: failed and expired recipients;
 * delivered ones the next host will not report on; and, once per message, the still deferred
 * ones when the message has waited queues.delay_warning_s. Best effort: the status store already
 * holds every answer, a lost DSN loses no information.
 */
async function report(
  deps: OutboundWorkerDeps,
  entry: SpoolEntry,
  recorded: readonly (HostedResult & { state: AttemptResult['state'] })[],
  times: ReportTimes,
  log: Logger,
): Promise<void> {
  const meta = entry.meta;
  if (meta.kind !== 'smtp' || !deps.sendDsn) return;
  const outcomes: RecipientReport[] = [];
  for (const r of recorded) {
    if (r.state === 'failed' || r.state === 'expired') {
      const status = enhancedStatus({ code: r.code === 'ok' ? 'remote_permanent' : r.code, reply: r.reply });
      outcomes.push({
        recipient: r.recipient,
        action: 'failed',
        status: statusForAction('failed', status),
        diagnostic: r.reply,
        ...(r.host ? { remoteMta: r.host } : {}),
      });
    } else if (r.state === 'delivered' && r.handedOn && r.handedOn !== 'reports') {
      outcomes.push({
        recipient: r.recipient,
        action: r.handedOn,
        status: '2.0.0',
        diagnostic: r.reply,
        ...(r.host ? { remoteMta: r.host } : {}),
      });
    }
  }
  const reports = requestedReports(meta.dsn, outcomes);
  const delayed = await delayWarning(deps, entry, recorded, times, meta.dsn);
  const all = [...reports, ...delayed.reports];
  if (all.length === 0) return;
  const target = dsnTarget(meta);
  if (!target.to) {
    log.info({ withheld: target.withheld, recipients: all.map((r) => r.recipient) }, 'DSN withheld');
    await delayed.claimed?.sent();
    return;
  }
  try {
    const returned = await returnedContent(
      async () => (await deps.spool.openBody(entry)).stream,
      meta.dsn?.ret === 'FULL',
    );
    const dsnQueueId = await deps.sendDsn(
      target.to,
      composeDsn({
        reportingMta: deps.config.hostname,
        to: target.to,
        queueId: entry.queueId,
        arrivalDate: new Date(times.arrival),
        date: times.at,
        recipients: all,
        ...(meta.dsn?.envid ? { envid: meta.dsn.envid } : {}),
        returned,
      }),
    );
    await delayed.claimed?.sent();
    log.info({ to: target.to, dsnQueueId, actions: [...new Set(all.map((r) => r.action))] }, 'DSN queued');
  } catch (err) {
    await delayed.claimed?.release().catch(() => undefined);
    log.error({ err }, 'could not queue a DSN');
  }
}

/** The delay warning's reports, when one is due now and this run claimed it. */
async function delayWarning(
  deps: OutboundWorkerDeps,
  entry: SpoolEntry,
  recorded: readonly (HostedResult & { state: AttemptResult['state'] })[],
  times: ReportTimes,
  dsn: MessageDsn | undefined,
): Promise<{ reports: RecipientReport[]; claimed?: { sent(): Promise<void>; release(): Promise<void> } }> {
  const warnAfterS = deps.config.queues.delay_warning_s;
  const ledger = deps.dsnLedger;
  if (!ledger || warnAfterS <= 0 || times.at.getTime() - times.arrival < warnAfterS * 1000) return { reports: [] };
  const willRetryUntil = new Date(times.arrival + times.lifetimeS * 1000);
  const reports = requestedReports(
    dsn,
    recorded
      .filter((r) => r.state === 'deferred')
      .map((r) => ({
        recipient: r.recipient,
        action: 'delayed' as const,
        status: statusForAction(
          'delayed',
          enhancedStatus({ code: r.code === 'ok' ? 'remote_transient' : r.code, reply: r.reply }),
        ),
        diagnostic: r.reply,
        ...(r.host ? { remoteMta: r.host } : {}),
        willRetryUntil,
      })),
  );
  if (reports.length === 0) return { reports: [] };
  const scope = `smtp:${entry.queueId}`;
  if ((await ledger.claim(scope, ['delay'])).length === 0) return { reports: [] };
  return {
    reports,
    claimed: { sent: () => ledger.sent(scope, ['delay']), release: () => ledger.release(scope, ['delay']) },
  };
}

/** Lifetime counts from arrival, as Postfix's maximal_queue_lifetime does. */
function arrivalOf(entry: SpoolEntry, job?: MailJob): number {
  const created = Date.parse(entry.meta.createdAt);
  return Number.isFinite(created) ? created : (job?.timestamp ?? Date.now());
}

/**
 * The trace fields on top of the outgoing copy. SMTP-born mail carries the ones src/inbound-smtp
 * made when it took the message (ARC set, Authentication-Results, Received); anything else gets
 * our own Received for this hop.
 */
function traceFor(deps: OutboundWorkerDeps, entry: SpoolEntry, single: string | undefined, local: boolean): string {
  const meta = entry.meta;
  // SMTP mail for a domain hosted here is delivered by us in all but name: it is marked like Maildir mail
  if (meta.kind === 'smtp')
    return [...smtpTraceFields(meta), ...(local ? [pmtpTrustField({ trust: 'smtp' })] : [])].join('');
  const protocol = meta.kind === 'pmtp' ? 'PMTP' : undefined;
  return receivedHeader({
    by: deps.config.hostname,
    queueId: entry.queueId,
    protocol,
    date: new Date((deps.now ?? Date.now)()),
    recipient: single,
  });
}
