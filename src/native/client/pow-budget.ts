// How many proof-of-work hashes we spend on one destination: a token bucket per destination that
// holds at most an hour's budget and refills it evenly over the hour, so a recipient that keeps
// challenging us gets a bounded share of our CPU. Pure bookkeeping; the solver asks before it hashes.

export type Reservation =
  | { readonly ok: true; readonly granted: number }
  | { readonly ok: false; readonly retryAtMs: number }
  /** the least asked is more than a full bucket: waiting never helps */
  | { readonly ok: false; readonly never: true };

interface Bucket {
  tokens: number;
  atMs: number;
}

const HOUR_MS = 3_600_000;
/** Full buckets hold nothing worth keeping; they are swept once this many destinations are known. */
const SWEEP_AT = 1000;

export class PowBudget {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly perHour: number) {}

  private refilled(destination: string, nowMs: number): Bucket {
    const bucket = this.buckets.get(destination) ?? { tokens: this.perHour, atMs: nowMs };
    const elapsed = Math.max(0, nowMs - bucket.atMs);
    bucket.tokens = Math.min(this.perHour, bucket.tokens + (elapsed * this.perHour) / HOUR_MS);
    bucket.atMs = Math.max(bucket.atMs, nowMs);
    return bucket;
  }

  /** Takes up to `wanted` hashes, and at least `least`, or says when `least` will be there. */
  reserve(destination: string, nowMs: number, wanted: number, least: number): Reservation {
    if (least > this.perHour) return { ok: false, never: true };
    const bucket = this.refilled(destination, nowMs);
    if (bucket.tokens < least) {
      this.buckets.set(destination, bucket);
      return { ok: false, retryAtMs: bucket.atMs + Math.ceil(((least - bucket.tokens) * HOUR_MS) / this.perHour) };
    }
    const granted = Math.floor(Math.min(wanted, bucket.tokens));
    bucket.tokens -= granted;
    this.buckets.set(destination, bucket);
    if (this.buckets.size > SWEEP_AT) this.sweep(nowMs);
    return { ok: true, granted };
  }

  /** Gives back what a reservation did not use. */
  refund(destination: string, nowMs: number, unused: number): void {
    const bucket = this.refilled(destination, nowMs);
    bucket.tokens = Math.min(this.perHour, bucket.tokens + Math.max(0, unused));
    this.buckets.set(destination, bucket);
  }

  private sweep(nowMs: number): void {
    for (const [destination] of this.buckets)
      if (this.refilled(destination, nowMs).tokens >= this.perHour) this.buckets.delete(destination);
  }
}
