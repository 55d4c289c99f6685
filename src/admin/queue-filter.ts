// Which queued messages an operator means: by domain, sender, state and age, like the selections
// admins build around postqueue/postsuper with grep. Pure, so `queue list` and the bulk actions
// (`queue retry|delete` without an id) pick exactly the same messages.

import type { QueuedMessage } from './queue-inspection.js';

export interface QueueFilter {
  /** a sender or recipient domain (case-insensitive) */
  readonly domain?: string;
  /** the envelope sender; `<>` for the null sender */
  readonly sender?: string;
  /** `held`, a job state (waiting, active, delayed, failed, …) or a recipient state (deferred, queued, …) */
  readonly state?: string;
  /** arrived at least this many seconds ago */
  readonly olderThanS?: number;
  /** arrived at most this many seconds ago */
  readonly newerThanS?: number;
}

export function isEmptyFilter(filter: QueueFilter): boolean {
  return Object.values(filter).every((v) => v === undefined);
}

export function matchesFilter(message: QueuedMessage, filter: QueueFilter, nowMs: number): boolean {
  if (filter.domain !== undefined) {
    const domain = filter.domain.toLowerCase();
    const addresses = [message.sender ?? '', ...message.recipients.map((r) => r.address)];
    if (!addresses.some((a) => domainOf(a) === domain)) return false;
  }
  if (filter.sender !== undefined) {
    const wanted = filter.sender === '<>' ? '' : filter.sender.toLowerCase();
    if (message.sender === undefined || message.sender.toLowerCase() !== wanted) return false;
  }
  if (filter.state !== undefined) {
    const states = [
      ...(message.heldAt === undefined ? [] : ['held']),
      ...message.jobs.map((j) => j.state as string),
      ...message.recipients.map((r) => r.state as string),
    ];
    if (!states.includes(filter.state)) return false;
  }
  if (filter.olderThanS !== undefined || filter.newerThanS !== undefined) {
    // a job whose spool entry is gone has no arrival time: no age filter can select it
    if (message.arrivalTime === undefined) return false;
    const ageS = (nowMs - Date.parse(message.arrivalTime)) / 1000;
    if (filter.olderThanS !== undefined && ageS < filter.olderThanS) return false;
    if (filter.newerThanS !== undefined && ageS > filter.newerThanS) return false;
  }
  return true;
}

function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at === -1 ? '' : address.slice(at + 1).toLowerCase();
}
