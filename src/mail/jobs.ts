// The shapes of `notice` queue jobs: fan-out (one job per outbox entry, the one recovery
// re-creates), notify one destination (optionally some recipients at a redirect endpoint),
// poll a deferred recipient's cookie, and withdraw (retract / give up).
import type { MailJobData } from '../queue/queues.js';

export interface NoticeJobData extends MailJobData {
  readonly domain?: string;
  /** expire: the notice lifetime ended; undecided recipients expire and the stored message goes. */
  readonly action?: 'notify' | 'poll' | 'withdraw' | 'expire';
  /** notify: only these recipients (redirects); default every non-final recipient of the domain. */
  readonly recipients?: readonly string[];
  /** notify/poll: the endpoint to use instead of the discovered one (a verified delegate). */
  readonly endpoint?: string;
  readonly redirects?: number;
  /** poll */
  readonly recipient?: string;
  readonly cookie?: string;
  readonly pollUntil?: number;
  readonly polls?: number;
  /** withdraw */
  readonly reason?: 'retracted' | 'given_up';
}

/** BullMQ job ids may not contain ':'; addresses may hold anything, so hash-free escaping. */
export function jobSafe(text: string): string {
  return text.replace(/[^A-Za-z0-9._@-]/g, '_');
}
