// Tells a fault of our own Redis (unreachable, read-only after a failover, a command timeout) from
// a delivery failure. Ours is not the destination's fault: the job waits for Redis and goes again
// within seconds without spending an attempt; a remote failure keeps its retry schedule.

import { MailbridgeError } from '../codes.js';

/**
 * What ioredis says when a command cannot reach the primary, or the primary cannot take it; on
 * Redis Cluster also while a master's slots wait for its replica to take over.
 */
const redisFaultMessage =
  /Stream isn't writeable|Connection is closed|Command timed out|Reached the max retries per request|^(READONLY|LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN)\b|^Too many Cluster redirections|^Cluster isn't ready|^Failed to refresh slots cache/;

export function isRedisFault(err: unknown): boolean {
  for (let cause = err, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    if (cause instanceof MailbridgeError && cause.code === 'queue_unavailable') return true;
    if (cause.name === 'MaxRetriesPerRequestError' || redisFaultMessage.test(cause.message)) return true;
  }
  return false;
}

/** How long a job waits after a Redis fault before it runs again: seconds, spread so a queue does not stampede. */
export function redisFaultDelayMs(random: number): number {
  return 1000 + Math.floor(random * 1000);
}
