// Solves proof-of-work challenges off the event loop: each solve runs in its own worker thread, at
// most `threads` at a time, within the destination's hash budget (pow-budget.ts). The answer is
// checked here with the protocol's own work hash, so the thread's loop needs no trust.
import { Worker } from 'node:worker_threads';
import { challengeId, leadingZeroBits, MAX_POW_BITS, type PowChallenge, workHash } from '../protocol/proof-of-work.js';
import { PowBudget } from './pow-budget.js';

export type PowSolveResult =
  | { readonly kind: 'solved'; readonly solution: string; readonly hashes: number }
  /** the destination spent its budget: try again at `retryAtMs` */
  | { readonly kind: 'over-budget'; readonly retryAtMs: number }
  /** more work than the budget could ever grant, or no solution within what it did */
  | { readonly kind: 'too-hard'; readonly detail: string };

export interface PowSolverOptions {
  /** hash iterations per destination per hour */
  readonly budgetPerHour: number;
  /** solves running at once */
  readonly threads: number;
  readonly nowMs: () => number;
}

/** A solve ended by our own shutdown: nothing to hold against the destination. */
export class PowSolverStopped extends Error {}

/** Tries counters 0, 1, 2… up to `max` (the reference solver's order), in a CommonJS worker. */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { prefix, bits, max } = workerData;
function zeroBits(bytes) {
  let n = 0;
  for (const byte of bytes) {
    if (byte === 0) { n += 8; continue; }
    return n + Math.clz32(byte) - 24;
  }
  return n;
}
let found;
let counter = 0;
for (; counter < max; counter++) {
  if (zeroBits(createHash('sha256').update(prefix + counter).digest()) >= bits) { found = String(counter); break; }
}
parentPort.postMessage({ solution: found, hashes: found === undefined ? max : counter + 1 });
`;

/** Up to 64 times the expected work, as the synchronous solver allowed. */
const HEADROOM_BITS = 6;
/** Never start with less than 8 times the expected work: the search then fails 1 time in 3,000 (e^-8). */
const START_BITS = 3;

export class PowSolver {
  private readonly budget: PowBudget;
  private readonly running = new Set<Worker>();
  private readonly waiting: Array<() => void> = [];
  private active = 0;
  private closed = false;

  constructor(private readonly options: PowSolverOptions) {
    this.budget = new PowBudget(options.budgetPerHour);
  }

  async solve(destination: string, challenge: PowChallenge): Promise<PowSolveResult> {
    await this.slot();
    try {
      const least = 2 ** Math.min(challenge.bits + START_BITS, MAX_POW_BITS);
      const wanted = 2 ** Math.min(challenge.bits + HEADROOM_BITS, MAX_POW_BITS);
      const reserved = this.budget.reserve(destination, this.options.nowMs(), wanted, least);
      if (!reserved.ok) {
        if ('never' in reserved)
          return {
            kind: 'too-hard',
            detail: `${challenge.bits} bits need up to ${least} hashes, over our budget of ${this.options.budgetPerHour} per hour for ${destination}`,
          };
        return { kind: 'over-budget', retryAtMs: reserved.retryAtMs };
      }
      const outcome = await this.run(`${challengeId(challenge)}:`, challenge.bits, reserved.granted);
      this.budget.refund(destination, this.options.nowMs(), reserved.granted - outcome.hashes);
      if (outcome.solution === undefined || leadingZeroBits(workHash(challenge, outcome.solution)) < challenge.bits)
        return { kind: 'too-hard', detail: `no solution within ${reserved.granted} hashes` };
      return { kind: 'solved', solution: outcome.solution, hashes: outcome.hashes };
    } finally {
      this.release();
    }
  }

  /** Stops every solve under way (they fail) and refuses new ones. */
  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.waiting.splice(0)) wake();
    await Promise.all([...this.running].map((w) => w.terminate()));
  }

  private async slot(): Promise<void> {
    while (this.active >= this.options.threads && !this.closed) await new Promise<void>((r) => this.waiting.push(r));
    if (this.closed) throw new PowSolverStopped('proof-of-work solver is closed');
    this.active++;
  }

  private release(): void {
    this.active--;
    this.waiting.shift()?.();
  }

  private run(prefix: string, bits: number, max: number): Promise<{ solution?: string; hashes: number }> {
    return new Promise((resolve, reject) => {
      const worker = new Worker(THREAD_SOURCE, { eval: true, workerData: { prefix, bits, max } });
      this.running.add(worker);
      let answered = false;
      worker.once('message', (m: { solution?: string; hashes: number }) => {
        answered = true;
        resolve(m);
      });
      worker.once('error', reject);
      worker.once('exit', (code) => {
        this.running.delete(worker);
        if (answered) return;
        reject(
          this.closed
            ? new PowSolverStopped('proof-of-work solver closed')
            : new Error(`proof-of-work thread exited (${code})`),
        );
      });
    });
  }
}
