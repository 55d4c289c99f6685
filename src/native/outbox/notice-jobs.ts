// The notice jobs of one accepted outbox copy: a notify per destination domain, the delay warning
// of SMTP-born mail, and the expiry that ends the copy's life. Queued by the submit that stored
// the copy, and again by a recovered copy's fan-out (the job ids make a repeat a no-op).
import { delayWarningJobId, expiryJobId, type JobDataByQueue } from '../../mail/jobs.js';
import type { SmtpOrigin } from '../../mail/spool-records.js';
import type { PmtpContext } from '../pmtp-context.js';

export interface NoticeJobSpec {
  readonly data: JobDataByQueue['notice'];
  readonly jobId: string;
  readonly delayMs?: number;
}

export interface OutboxCopy {
  readonly queueId: string;
  readonly destinations: Readonly<Record<string, readonly string[]>>;
  /** end of the notice lifetime, Unix seconds */
  readonly expires: number;
  readonly smtp?: SmtpOrigin | undefined;
}

/**
 * In queue order: the notices first and the expiry last. The expiry job keeps the copy alive for
 * the reconciler (queue/accept.ts), so it must not exist unless the notices were queued before it.
 */
export function noticeJobs(rt: Pick<PmtpContext, 'config' | 'nowMs' | 'nowS'>, copy: OutboxCopy): NoticeJobSpec[] {
  const notices: NoticeJobSpec[] = Object.keys(copy.destinations).map((domain) => ({
    data: { action: 'notify', queueId: copy.queueId, domain },
    jobId: `notice-${copy.queueId}-${domain}`,
  }));
  const warning = delayWarningJob(rt, copy);
  // after the lifetime: undecided recipients expire and the stored copy is dropped
  const untilExpiry = Math.max(0, (copy.expires - rt.nowS()) * 1000) + 60_000;
  return [
    ...notices,
    ...(warning ? [warning] : []),
    { data: { action: 'expire', queueId: copy.queueId }, jobId: expiryJobId(copy.queueId), delayMs: untilExpiry },
  ];
}

/** The one "delayed" DSN of SMTP-born mail, when it falls due before the copy expires. */
function delayWarningJob(rt: Pick<PmtpContext, 'config' | 'nowMs'>, copy: OutboxCopy): NoticeJobSpec | undefined {
  const smtp = copy.smtp;
  const afterS = rt.config.queues.delay_warning_s;
  if (!smtp || afterS <= 0) return undefined;
  const due = Date.parse(smtp.arrivedAt) + afterS * 1000;
  // past the notice lifetime every recipient is final: nothing would be left to warn about
  if (!Number.isFinite(due) || due >= copy.expires * 1000) return undefined;
  return {
    data: { action: 'delay-warning', queueId: copy.queueId },
    jobId: delayWarningJobId(copy.queueId),
    delayMs: Math.max(0, due - rt.nowMs()),
  };
}
