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

/**
 * How many attempts (the first included) fit in the lifetime without jitter. Called for every job
 * added, so it walks only the doubling delays (at most 53) and counts the capped ones at once: a
 * short cap with a long lifetime would otherwise mean a loop of hundreds of thousands per job.
 */
export function attemptsWithin(policy: RetryPolicy): number {
  const lifetimeMs = policy.lifetime_s * 1000;
  const steady = { ...policy, jitter: 0 };
  let elapsed = 0;
  for (let attempts = 1; ; attempts++) {
    const delay = retryDelayMs(steady, attempts, 0.5);
    if (elapsed + delay > lifetimeMs) return attempts;
    elapsed += delay;
    // every later delay equals this one: count how many more still fit
    if (delay === retryDelayMs(steady, attempts + 1, 0.5))
      return attempts + 1 + Math.floor((lifetimeMs - elapsed) / delay);
  }
}

/** True once a job that started at `firstAttemptAt` has outlived the policy. */
export function lifetimeExceeded(policy: RetryPolicy, firstAttemptAt: number, now: number): boolean {
  return now - firstAttemptAt >= policy.lifetime_s * 1000;
}
