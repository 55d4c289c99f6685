// Shared knobs for the fuzz suites: FUZZ_RUNS (default 200) scales every property, the seed corpus
// under test/fuzz/corpus/<target>/ is replayed first, and chunkings split bytes anywhere.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';

export const RUNS = Number(process.env.FUZZ_RUNS ?? 200);

/** Every seed file of `target`, sorted by name. */
export function corpus(target: string): Array<[string, Buffer]> {
  const dir = path.join(import.meta.dirname, 'corpus', target);
  return readdirSync(dir)
    .sort()
    .map((name) => [name, readFileSync(path.join(dir, name))]);
}

/** Cuts `bytes` at the given offsets (taken modulo its length), as a network might. */
export function split(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % (bytes.length + 1))))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const cut of [...at, bytes.length]) {
    if (cut > from) out.push(bytes.subarray(from, cut));
    from = Math.max(from, cut);
  }
  return out;
}

/** Cut offsets for `split`. */
export const cuts = fc.array(fc.nat(1 << 20), { maxLength: 12 });

/** Bytes biased towards the characters each parser cares about. */
export function bytesOf(specials: string, maxLength = 300): fc.Arbitrary<Buffer> {
  const chars = [...Buffer.from(specials, 'latin1')];
  const byte = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...chars) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
  );
  return fc.array(byte, { maxLength }).map((a) => Buffer.from(a));
}
