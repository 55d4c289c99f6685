// The `inbound` stage, like Postfix's qmgr: takes mail accepted over SMTP and hands each recipient
// to its next owner: native mailboxes here, the PMTP outbox for remote PMTP domains, and the
// `outbound` queue for Postfix and legacy-internet recipients. It re-runs no check.

import { UnrecoverableError, type Processor } from 'bullmq';
import type { Readable } from 'node:stream';
import { traceFields, type InboundRoute, type InboundSmtpMeta } from '../inbound-smtp/inbound-meta.js';
import { forMessage, type Logger } from '../log.js';
import type { LocalMailboxes } from '../mailbox/local-delivery.js';
import type { Metrics } from '../observability/metrics.js';
import { isQueueId } from '../spool/queue-id.js';
import type { Spool, SpoolEntry } from '../spool/spool.js';
import type { DeliveryStatusStore } from './delivery-status.js';
import type { MailJob, MailJobData, MailQueues } from './queues.js';

/** Converts and stores an SMTP-born message for remote PMTP recipients, and queues its notices. */
export type PmtpSubmission = (entry: SpoolEntry, recipients: readonly InboundRoute[]) => Promise<void>;

export interface InboundDispatchDeps {
  readonly spool: Spool;
  readonly queues: MailQueues;
  readonly mailboxes: LocalMailboxes;
  readonly status: DeliveryStatusStore;
  readonly log: Logger;
  /** absent until the PMTP service runs; PMTP recipients then wait in the queue */
  readonly submitPmtp?: PmtpSubmission;
  /** mailbox deliveries and their arrival-to-delivery latency for /metrics */
  readonly metrics?: Pick<Metrics, 'delivery' | 'deliveryLatency'>;
  readonly now?: () => number;
}

interface InboundJobData extends MailJobData {
  /** route kinds already handed on, so a retry never delivers a mailbox copy twice */
  readonly done?: readonly string[];
}

export function createInboundProcessor(deps: InboundDispatchDeps): Processor<MailJobData> {
  const now = deps.now ?? Date.now;
  return async (job: MailJob) => {
    const { queueId } = job.data;
    if (!isQueueId(queueId)) throw new UnrecoverableError(`not a queue id: ${queueId}`);
    const log = forMessage(deps.log, queueId);
    const entry = await deps.spool.read(queueId).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)));
    if (!entry) {
      log.warn('spool entry is gone; nothing to dispatch');
      return { native: 0, pmtp: 0, outbound: 0 };
    }
    const meta = entry.meta as unknown as InboundSmtpMeta;
    const byKind = groupRoutes(meta.routes);
    const done = new Set((job.data as InboundJobData).done ?? []);
    const markDone = async (kind: string): Promise<void> => {
      done.add(kind);
      await job.updateData({ ...job.data, done: [...done] });
    };

    const native = byKind.get('native') ?? [];
    if (native.length > 0 && !done.has('native')) {
      const trace = traceFields(meta).join('');
      const open = async (): Promise<Readable> => (await deps.spool.openBody(queueId)).stream;
      const results = await deps.mailboxes.deliver(native.map((r) => r.rcpt), trace, open, queueId);
      const failed = results.filter((r) => !r.delivered);
      await deps.status.queued(queueId, native.map((r) => r.rcpt), new Date(now()));
      for (const r of results.filter((x) => x.delivered)) {
        await deps.status.record(queueId, { recipient: r.recipient, state: 'delivered', reply: `delivered to mailbox`, code: 'ok', host: 'maildir' }, new Date(now()));
        deps.metrics?.delivery('mailbox', 'delivered');
        deps.metrics?.deliveryLatency((now() - Date.parse(meta.createdAt)) / 1000, 'mailbox');
      }
      if (failed.length > 0) throw new Error(`mailbox delivery failed for ${failed.map((f) => `${f.recipient}: ${f.error}`).join('; ')}`);
      log.info({ recipients: native.length }, 'delivered to native mailboxes');
      await markDone('native');
    }

    const pmtp = byKind.get('pmtp') ?? [];
    if (pmtp.length > 0 && !done.has('pmtp')) {
      if (!deps.submitPmtp) throw new Error('PMTP service is not running; PMTP recipients wait');
      await deps.submitPmtp(entry, pmtp);
      log.info({ recipients: pmtp.length }, 'handed to the PMTP outbox');
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
    return { native: native.length, pmtp: pmtp.length, outbound: smtp.length };
  };
}

function groupRoutes(routes: readonly InboundRoute[]): Map<string, InboundRoute[]> {
  const groups = new Map<string, InboundRoute[]>();
  for (const route of routes) groups.set(route.kind, [...(groups.get(route.kind) ?? []), route]);
  return groups;
}
