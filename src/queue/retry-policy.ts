// Retry schedule, pure: Postfix-style doubling backoff with a cap, jitter, and a lifetime.
// BullMQ asks `retryDelayMs` for each delay; `attemptsWithin` sizes `attempts` to the lifetime.

import type { RetryPolicyConfig } from '../config/schema.js';

export type RetryPolicy = Readonly<RetryPolicyConfig>;

/** Delay before retry number `attemptsMade` (1 = the first retry). `random` is in [0, 1). */
export function retryDelayMs(policy: RetryPolicy, attemptsMade: number, random: number): number {
  const exponent = Math.max(0, attemptsMade - 1);
  const base = Math.min(policy.initial_delay_s * 2 ** Math.min(exponent, 52), policy.max_delay_s);
  // symmetric jitter keeps a whole queue of failures from retrying in one burst
  const factor = 1 + policy.jitter * (2 * random - 1);
  return Math.round(base * factor * 1000);
}

/** How many attempts (the first included) fit in the lifetime without jitter. */
export function attemptsWithin(policy: RetryPolicy): number {
  let elapsed = 0;
  let attempts = 1;
  while (true) {
    elapsed += retryDelayMs({ ...policy, jitter: 0 }, attempts, 0.5);
    if (elapsed > policy.lifetime_s * 1000) return attempts;
    attempts++;
  }
}

/** True once a job that started at `firstAttemptAt` has outlived the policy. */
export function lifetimeExceeded(policy: RetryPolicy, firstAttemptAt: number, now: number): boolean {
  return now - firstAttemptAt >= policy.lifetime_s * 1000;
}
