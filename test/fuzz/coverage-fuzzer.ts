// A coverage-guided fuzzer on V8's own block coverage (node:inspector, no native addon): an input
// that reaches a new code block, or a block a new number of times (AFL-style count buckets), joins
// the corpus and is mutated further. Oracle failures and reproducible slow inputs are findings.
import { createHash } from 'node:crypto';
import { Session } from 'node:inspector/promises';

export interface CoverageTarget {
  /** its corpus folder under test/fuzz/corpus/ */
  readonly name: string;
  /** tokens the mutator splices in whole: delimiters, keywords, tricks of the format */
  readonly dictionary: readonly string[];
  /** inputs are cut to this size; bigger seeds are replayed but not mutated */
  readonly maxBytes: number;
  /** which loaded scripts count as coverage (by URL); the code under test and its parsers */
  readonly scripts: RegExp;
  /** Runs the code under test on one input; throws when an oracle breaks. */
  run(input: Buffer): Promise<void> | void;
}

export interface FuzzFinding {
  readonly kind: 'oracle' | 'stall';
  readonly input: Buffer;
  readonly detail: string;
}

export interface FuzzReport {
  readonly execs: number;
  readonly seconds: number;
  readonly seeds: number;
  /** inputs that found new coverage, in the order found */
  readonly added: readonly Buffer[];
  readonly blocks: number;
  /** the longest event-loop stall of any run */
  readonly slowestMs: number;
  readonly findings: readonly FuzzFinding[];
}

export interface FuzzOptions {
  readonly seconds: number;
  readonly seed: number;
  /** an input that blocks the event loop longer than this, twice in a row, is a stall finding */
  readonly stallMs: number;
}

/** xorshift32: a seeded, replayable stream of choices. */
function random(seed: number): (below: number) => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return (below) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return below <= 0 ? 0 : x % below;
  };
}

const interestingBytes = [
  0x00, 0x01, 0x09, 0x0a, 0x0d, 0x20, 0x22, 0x2c, 0x2d, 0x2e, 0x3a, 0x3b, 0x3d, 0x40, 0x5c, 0x7b, 0x7d, 0x7f, 0x80,
  0xc3, 0xff,
];

/** Counts bucketed as AFL does, so a loop running 1, 2, 3, 4-7 … times are different signals. */
function bucket(count: number): number {
  if (count <= 3) return count;
  return 32 - Math.clz32(count);
}

/** One to four stacked edits of `input`, some borrowing from the dictionary or another corpus entry. */
function mutate(
  input: Buffer,
  corpus: readonly Buffer[],
  dictionary: readonly Buffer[],
  pick: (below: number) => number,
  maxBytes: number,
): Buffer {
  let out = Buffer.from(input);
  const edits = 1 + pick(4);
  for (let e = 0; e < edits; e++) {
    const at = pick(out.length + 1);
    const span = 1 + pick(Math.max(1, Math.min(32, out.length - at)));
    switch (pick(9)) {
      case 0:
        if (out.length > 0) out[at % out.length]! ^= 1 << pick(8);
        break;
      case 1:
        if (out.length > 0) out[at % out.length] = interestingBytes[pick(interestingBytes.length)]!;
        break;
      case 2:
        out = Buffer.concat([
          out.subarray(0, at),
          Buffer.from(Array.from({ length: 1 + pick(8) }, () => pick(256))),
          out.subarray(at),
        ]);
        break;
      case 3:
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + span)]);
        break;
      case 4:
        out = Buffer.concat([out.subarray(0, at), out.subarray(at, at + span), out.subarray(at)]);
        break;
      case 5:
      case 6:
        if (dictionary.length > 0) {
          const token = dictionary[pick(dictionary.length)]!;
          const replace = pick(2) === 0 ? token.length : 0;
          out = Buffer.concat([out.subarray(0, at), token, out.subarray(at + replace)]);
        }
        break;
      case 7: {
        const other = corpus[pick(corpus.length)];
        if (other) out = Buffer.concat([out.subarray(0, at), other.subarray(pick(other.length + 1))]);
        break;
      }
      default:
        out = out.subarray(0, at);
    }
  }
  return out.length > maxBytes ? out.subarray(0, maxBytes) : out;
}

/** V8 precise coverage, read and reset after every run. */
class BlockCoverage {
  private readonly seen = new Set<string>();
  private constructor(private readonly session: Session) {}

  static async start(): Promise<BlockCoverage> {
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
    return new BlockCoverage(session);
  }

  get size(): number {
    return this.seen.size;
  }

  /** Adds what ran since the last call; returns how many (block, bucket) pairs were new. */
  async collect(scripts: RegExp): Promise<number> {
    const { result } = await this.session.post('Profiler.takePreciseCoverage');
    let fresh = 0;
    for (const script of result) {
      if (!scripts.test(script.url)) continue;
      for (const fn of script.functions) {
        for (const range of fn.ranges) {
          if (range.count === 0) continue;
          const key = `${script.url}:${range.startOffset}:${range.endOffset}:${bucket(range.count)}`;
          if (!this.seen.has(key)) {
            this.seen.add(key);
            fresh++;
          }
        }
      }
    }
    return fresh;
  }

  async stop(): Promise<void> {
    await this.session.post('Profiler.stopPreciseCoverage');
    await this.session.post('Profiler.disable');
    this.session.disconnect();
  }
}

/**
 * The longest time `run` kept the event loop from turning: a 2 ms heartbeat notes each gap, and a
 * synchronous run is one gap from start to end. Awaited I/O and yields between chunks do not count.
 */
export async function longestStall(run: () => Promise<void> | void): Promise<number> {
  let last = performance.now();
  let worst = 0;
  const beat = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 2);
  try {
    await run();
  } finally {
    clearInterval(beat);
  }
  return Math.max(worst, performance.now() - last);
}

export function inputName(prefix: string, input: Buffer): string {
  return `${prefix}-${createHash('sha256').update(input).digest('hex').slice(0, 12)}`;
}

/** Replays `seeds` (building the starting coverage), then mutates for `seconds`. */
export async function fuzzWithCoverage(
  target: CoverageTarget,
  seeds: readonly Buffer[],
  options: FuzzOptions,
): Promise<FuzzReport> {
  const pick = random(options.seed);
  const dictionary = target.dictionary.map((t) => Buffer.from(t, 'latin1'));
  const coverage = await BlockCoverage.start();
  const corpus: Buffer[] = [];
  const added: Buffer[] = [];
  const findings: FuzzFinding[] = [];
  let slowestMs = 0;
  let execs = 0;

  /** Runs once; a long stall is measured again before it counts, so a GC pause or a busy CI core is not a finding. */
  const execute = async (input: Buffer): Promise<boolean> => {
    execs++;
    let stall: number;
    try {
      stall = await longestStall(() => target.run(input));
    } catch (err) {
      findings.push({ kind: 'oracle', input, detail: err instanceof Error ? err.message : String(err) });
      return false;
    }
    if (stall > options.stallMs) {
      stall = Math.min(stall, await longestStall(() => target.run(input)).catch(() => 0));
      if (stall > options.stallMs)
        findings.push({ kind: 'stall', input, detail: `event loop blocked ${stall.toFixed(0)} ms, twice` });
    }
    slowestMs = Math.max(slowestMs, stall);
    return true;
  };

  try {
    for (const seed of seeds) {
      await execute(seed);
      await coverage.collect(target.scripts);
      if (seed.length <= target.maxBytes) corpus.push(seed);
    }
    if (corpus.length === 0) corpus.push(Buffer.alloc(0));
    const started = performance.now();
    const deadline = started + options.seconds * 1000;
    while (performance.now() < deadline && findings.length < 10) {
      // favour recent finds: they sit at the edge of what is covered
      const base = corpus[pick(2) === 0 ? corpus.length - 1 - pick(Math.min(8, corpus.length)) : pick(corpus.length)]!;
      const input = mutate(base, corpus, dictionary, pick, target.maxBytes);
      const ok = await execute(input);
      const fresh = await coverage.collect(target.scripts);
      if (ok && fresh > 0) {
        corpus.push(input);
        added.push(input);
      }
    }
    return {
      execs,
      seconds: (performance.now() - started) / 1000,
      seeds: seeds.length,
      added,
      blocks: coverage.size,
      slowestMs,
      findings,
    };
  } finally {
    await coverage.stop();
  }
}
