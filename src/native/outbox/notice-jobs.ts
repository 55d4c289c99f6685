// The notice jobs of one accepted outbox copy: a notify per destination domain and the expiry that
// ends the copy's life (waking first for the delay warning of SMTP-born mail). Queued by the submit
// that stored the copy, and again by a recovered copy's fan-out (the job ids make a repeat a no-op).
import { expiryJobId, type JobDataByQueue } from '../../mail/jobs.js';
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
 * When SMTP-born mail is due a delay warning before the copy expires, the expiry job wakes first
 * for that (`warn`) and then waits on for the lifetime: one timer per copy.
 */
export function noticeJobs(rt: Pick<PmtpContext, 'config' | 'nowMs' | 'nowS'>, copy: OutboxCopy): NoticeJobSpec[] {
  const notices: NoticeJobSpec[] = Object.keys(copy.destinations).map((domain) => ({
    data: { action: 'notify', queueId: copy.queueId, domain },
    jobId: `notice-${copy.queueId}-${domain}`,
  }));
  const warnAtMs = delayWarningDue(rt, copy);
  const expiry: NoticeJobSpec =
    warnAtMs === undefined
      ? {
          data: { action: 'expire', queueId: copy.queueId },
          jobId: expiryJobId(copy.queueId),
          delayMs: expiryDelayMs(rt, copy.expires),
        }
      : {
          data: { action: 'expire', queueId: copy.queueId, warn: true },
          jobId: expiryJobId(copy.queueId),
          delayMs: Math.max(0, warnAtMs - rt.nowMs()),
        };
  return [...notices, expiry];
}

/** After the lifetime (and a minute's grace): undecided recipients expire and the stored copy is dropped. */
export function expiryDelayMs(rt: Pick<PmtpContext, 'nowS'>, expires: number): number {
  return Math.max(0, (expires - rt.nowS()) * 1000) + 60_000;
}

/** When the one "delayed" DSN of SMTP-born mail falls due, if before the copy expires (ms since the epoch). */
function delayWarningDue(rt: Pick<PmtpContext, 'config'>, copy: OutboxCopy): number | undefined {
  const smtp = copy.smtp;
  const afterS = rt.config.queues.delay_warning_s;
  if (!smtp || afterS <= 0) return undefined;
  const due = Date.parse(smtp.arrivedAt) + afterS * 1000;
  // past the notice lifetime every recipient is final: nothing would be left to warn about
  return Number.isFinite(due) && due < copy.expires * 1000 ? due : undefined;
}
