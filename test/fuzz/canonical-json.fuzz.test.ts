// Fuzzes the PMTP canonical JSON parser and the manifest parser: arbitrary bytes and values never
// throw anything but ProtocolError, whatever parses re-encodes to the very same bytes, and
// parseManifest returns a result (never throws) for any JSON value.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, parseCanonicalJson } from '../../src/native/protocol/canonical-json.js';
import { manifestBytes, parseManifest } from '../../src/native/protocol/message-format.js';
import { ProtocolError } from '../../src/native/protocol/protocol-error.js';
import { sampleManifest } from '../native/protocol/fixtures.js';
import { bytesOf, corpus, RUNS } from './fuzz-support.js';
import { checkCanonical as check } from './oracles.js';

describe('fuzz: canonical JSON and manifest parser', () => {
  for (const [name, bytes] of corpus('canonical-json')) {
    it(`corpus ${name}`, () => check(bytes));
  }

  it('random bytes', () => {
    fc.assert(
      fc.property(bytesOf('{}[]",:\\0123456789-eEtrufalsn \u00e9\ud800'), (b) => check(b)),
      { numRuns: RUNS * 5 },
    );
  });

  it('random JSON values: encode is total or a ProtocolError, and parse(encode(v)) is stable', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 40 }), (v) => {
        let text: string;
        try {
          text = canonicalJson(v);
        } catch (err) {
          expect(err).toBeInstanceOf(ProtocolError);
          return;
        }
        check(Buffer.from(text, 'utf8'));
        expect(canonicalJson(parseCanonicalJson(Buffer.from(text, 'utf8')))).toBe(text);
      }),
      { numRuns: RUNS * 5 },
    );
  });

  it('one-byte mutations of a canonical manifest never slip through unchanged', () => {
    const base = manifestBytes(sampleManifest());
    fc.assert(
      fc.property(
        fc.nat(base.length - 1),
        fc.integer({ min: 0, max: 255 }),
        fc.constantFrom('set', 'insert', 'delete'),
        (at, byte, op) => {
          const bytes =
            op === 'set'
              ? Buffer.from(base).fill(byte, at, at + 1)
              : op === 'insert'
                ? Buffer.concat([base.subarray(0, at), Buffer.of(byte), base.subarray(at)])
                : Buffer.concat([base.subarray(0, at), base.subarray(at + 1)]);
          check(bytes);
        },
      ),
      { numRuns: RUNS * 5 },
    );
  });

  it('parseManifest never throws on near-manifests', () => {
    const field = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant(undefined));
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.constantFrom('v', 'id', 'version', 'from', 'headers', 'parts', 'provenance', 'created', 'x'),
          field,
        ),
        (overrides) => {
          const candidate = { ...sampleManifest(), ...overrides };
          expect(() => parseManifest(candidate)).not.toThrow();
        },
      ),
      { numRuns: RUNS * 5 },
    );
  });
});
