// Fuzzes MessageStreamReader: random bytes and mutated valid streams, cut anywhere, never throw,
// give the same events whatever the chunking, and a part is only ever ended (part-end) when its
// bytes match the manifest's SHA-256, with `end` only after a well-formed stream.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { manifestDigest } from '../../src/native/protocol/message-format.js';
import { STREAM_MAGIC, type StreamReaderOptions } from '../../src/native/protocol/message-framing.js';
import { bytesOf, corpus, cuts, RUNS, split } from './fuzz-support.js';
import { framedManifest as manifest, readFramed as read, validFramedStream as valid } from './oracles.js';

const optionsArb = fc.constantFrom<StreamReaderOptions>(
  {},
  { expectedDigest: manifestDigest(manifest) },
  { expectedDigest: 'x' },
  { view: 'full' },
  { view: 'text' },
  { maxHeadBytes: 64 },
);

/** Chunking independence: whole input vs two random chunkings, plus one byte at a time. */
function check(bytes: Buffer, a: number[], b: number[], options: StreamReaderOptions): void {
  const whole = read([bytes], options);
  expect(read(split(bytes, a), options)).toBe(whole);
  expect(read(split(bytes, b), options)).toBe(whole);
}

const mutatedStream = fc
  .array(
    fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'insert', 'delete')),
    { maxLength: 3 },
  )
  .map((edits) =>
    edits.reduce((buf, [at, byte, op]) => {
      const i = at % Math.max(1, buf.length);
      if (op === 'set') return Buffer.concat([buf.subarray(0, i), Buffer.of(byte), buf.subarray(i + 1)]);
      if (op === 'insert') return Buffer.concat([buf.subarray(0, i), Buffer.of(byte), buf.subarray(i)]);
      return Buffer.concat([buf.subarray(0, i), buf.subarray(i + 1)]);
    }, valid),
  );

describe('fuzz: framed message reader', () => {
  it('the unmutated stream ends with every part (the oracle starts from a good stream)', () => {
    expect(read([valid], {})).toMatch(/done 0,1,2$/);
  });

  for (const [name, bytes] of corpus('message-framing')) {
    it(`corpus ${name}`, () => {
      for (const options of [{}, { view: 'text' as const }]) {
        const whole = read([bytes], options);
        expect(
          read(
            [...bytes].map((b) => Buffer.of(b)),
            options,
          ),
        ).toBe(whole);
      }
    });
  }

  it('random bytes after the magic, any chunking', () => {
    fc.assert(
      fc.property(bytesOf('HPE 0123456789\n{}"', 200), cuts, cuts, optionsArb, (tail, a, b, o) =>
        check(Buffer.concat([STREAM_MAGIC, tail]), a, b, o),
      ),
      { numRuns: RUNS * 5 },
    );
  });

  it('mutated valid streams, any chunking; byte-at-a-time agrees too', () => {
    fc.assert(
      fc.property(mutatedStream, cuts, cuts, optionsArb, (bytes, a, b, o) => {
        check(bytes, a, b, o);
        expect(
          read(
            [...bytes].map((x) => Buffer.of(x)),
            o,
          ),
        ).toBe(read([bytes], o));
      }),
      { numRuns: RUNS },
    );
  });
});
