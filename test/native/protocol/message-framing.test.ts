import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describePart, type Manifest, manifestDigest } from '../../../src/native/protocol/message-format.js';
import {
  encodeMessageStream,
  type MessageHead,
  MessageStreamReader,
  type StreamEvent,
  type StreamReaderOptions,
} from '../../../src/native/protocol/message-framing.js';
import { verifyManifestSignatures } from '../../../src/native/protocol/message-signature.js';
import { partsForView } from '../../../src/native/protocol/message-views.js';
import { KEYS, lookupOf, NOW, originSignature, PART_DATA, sampleManifest } from './fixtures.js';

function headOf(manifest: Manifest): MessageHead {
  return { manifest, signatures: [originSignature(manifest)] };
}

function fullStream(manifest: Manifest, data: Buffer[]): Buffer {
  return encodeMessageStream(
    headOf(manifest),
    data.map((d, index) => ({ index, data: d })),
  );
}

/** What a reader saw, independent of chunking: the head digest, each part's bytes, the outcome. */
function summarise(events: StreamEvent[]) {
  const parts = new Map<number, Buffer[]>();
  let digest: string | undefined;
  let outcome: string | undefined;
  for (const e of events) {
    if (e.type === 'head') digest = e.manifestDigest;
    if (e.type === 'part-data') parts.set(e.index, [...(parts.get(e.index) ?? []), e.data]);
    if (e.type === 'part-end') outcome = `part-end ${e.index}`;
    if (e.type === 'end') outcome = `end ${e.parts.join(',')}`;
    if (e.type === 'error') outcome = `error ${e.code}`;
  }
  return { digest, outcome, parts: [...parts].map(([i, chunks]) => [i, Buffer.concat(chunks).toString('hex')]) };
}

function read(chunks: Buffer[], options: StreamReaderOptions = {}): StreamEvent[] {
  const reader = new MessageStreamReader(options);
  return [...chunks.flatMap((c) => reader.push(c)), ...reader.finish()];
}

function splitAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let start = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(start, p));
    start = p;
  }
  return out;
}

const partsArb = fc
  .array(fc.uint8Array({ maxLength: 300 }), { maxLength: 4 })
  .map((arrays) => arrays.map((a) => Buffer.from(a)));
const messageArb = partsArb.map((data) => {
  const manifest = sampleManifest({
    parts: data.map((d, i) =>
      describePart(d, { type: 'application/octet-stream', role: i === 0 ? 'body' : 'attachment' }),
    ),
  });
  return { manifest, data, stream: fullStream(manifest, data) };
});

describe('message stream framing', () => {
  it('round-trips a full message and verifies each part', () => {
    const manifest = sampleManifest();
    const events = read([fullStream(manifest, PART_DATA)], { expectedDigest: manifestDigest(manifest), view: 'full' });
    const summary = summarise(events);
    expect(summary.outcome).toBe('end 0,1,2');
    expect(summary.digest).toBe(manifestDigest(manifest));
    expect(summary.parts).toEqual(PART_DATA.map((d, i) => [i, d.toString('hex')]));
  });

  it('gives the same result however the input is chunked (property)', () => {
    fc.assert(
      fc.property(messageArb, fc.array(fc.nat(), { maxLength: 20 }), ({ manifest, stream }, cuts) => {
        const options = { expectedDigest: manifestDigest(manifest), view: 'full' as const };
        expect(summarise(read(splitAt(stream, cuts), options))).toEqual(summarise(read([stream], options)));
      }),
    );
  });

  it('also byte by byte', () => {
    const manifest = sampleManifest();
    const stream = fullStream(manifest, PART_DATA);
    const bytes = [...stream].map((b) => Buffer.of(b));
    expect(summarise(read(bytes))).toEqual(summarise(read([stream])));
  });

  it('detects any single-byte change, by framing or by signature check (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        messageArb,
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        async ({ manifest, stream }, at, mask) => {
          const tampered = Buffer.from(stream);
          const i = at % tampered.length;
          tampered[i] = tampered[i]! ^ mask;
          const digest = manifestDigest(manifest);
          const events = read([tampered], { expectedDigest: digest, view: 'full' });
          if (summarise(events).outcome?.startsWith('error ')) return;
          // Framing passed, so the change is in the signatures, which the digest does not cover.
          const head = events.find((e) => e.type === 'head');
          if (head?.type !== 'head') throw new Error('no head');
          const verdict = await verifyManifestSignatures({
            manifestDigest: head.manifestDigest,
            signatures: head.head.signatures,
            keyLookup: lookupOf({ 'a.example': [KEYS.a] }),
            now: NOW,
          });
          expect(verdict.ok).toBe(false);
        },
      ),
    );
  });

  it('reports truncation wherever the input stops (property)', () => {
    fc.assert(
      fc.property(messageArb, fc.nat(), ({ stream }, at) => {
        const cut = stream.subarray(0, at % stream.length);
        expect(summarise(read([cut])).outcome).toMatch(/^error (truncated|frame_malformed)$/);
      }),
    );
  });

  it('refuses a manifest other than the announced one before reading parts', () => {
    const manifest = sampleManifest();
    const other = sampleManifest({ version: 2 });
    const events = read([fullStream(manifest, PART_DATA)], { expectedDigest: manifestDigest(other) });
    expect(events.map((e) => e.type)).toEqual(['error']);
    expect(summarise(events).outcome).toBe('error manifest_digest_mismatch');
  });

  it('rejects a part whose octets differ from the manifest', () => {
    const manifest = sampleManifest();
    const wrong = [PART_DATA[0]!, Buffer.from(PART_DATA[1]!).fill(0x41), PART_DATA[2]!];
    const stream = encodeMessageStream(headOf({ ...manifest }), [])
      .subarray(0, -2)
      .toString('latin1');
    const body = wrong.map((d, i) => Buffer.concat([Buffer.from(`P ${i} ${d.length}\n`), d, Buffer.from('\n')]));
    const events = read([Buffer.from(stream, 'latin1'), ...body, Buffer.from('E\n')]);
    expect(summarise(events).outcome).toBe('error part_digest_mismatch');
    expect(events.filter((e) => e.type === 'part-end').map((e) => (e as { index: number }).index)).toEqual([0]);
  });

  it('rejects data after the end frame', () => {
    const stream = Buffer.concat([fullStream(sampleManifest(), PART_DATA), Buffer.from('x')]);
    expect(summarise(read([stream])).outcome).toBe('error frame_malformed');
  });

  it('rejects a head larger than the limit without buffering it', () => {
    const stream = fullStream(sampleManifest(), PART_DATA);
    expect(summarise(read([stream], { maxHeadBytes: 100 })).outcome).toBe('error frame_malformed');
  });

  it('rejects a head that is not canonical JSON', () => {
    const json = Buffer.from('{"manifest": 1}');
    const stream = Buffer.concat([Buffer.from(`PMTP/1\nH ${json.length}\n`), json, Buffer.from('\nE\n')]);
    expect(summarise(read([stream])).outcome).toBe('error head_invalid');
  });
});

describe('stream views', () => {
  const manifest = sampleManifest();
  const subset = (indices: number[]) =>
    encodeMessageStream(
      headOf(manifest),
      indices.map((index) => ({ index, data: PART_DATA[index]! })),
    );

  it('text view carries exactly the text/plain body part', () => {
    expect(partsForView(manifest, 'text')).toEqual([0]);
    expect(summarise(read([subset([0])], { view: 'text' })).outcome).toBe('end 0');
    expect(summarise(read([subset([0, 1])], { view: 'text' })).outcome).toBe('error frame_malformed');
    expect(summarise(read([subset([])], { view: 'text' })).outcome).toBe('error frame_malformed');
  });

  it('headers view carries no parts', () => {
    expect(summarise(read([subset([])], { view: 'headers' })).outcome).toBe('end ');
  });

  it('full view needs every part, in ascending order', () => {
    expect(summarise(read([subset([0, 2])], { view: 'full' })).outcome).toBe('error frame_malformed');
    expect(() =>
      encodeMessageStream(headOf(manifest), [
        { index: 1, data: PART_DATA[1]! },
        { index: 0, data: PART_DATA[0]! },
      ]),
    ).toThrow();
  });

  it('a message without a text body has an empty text view', () => {
    const noText = sampleManifest({ parts: manifest.parts.slice(1) });
    expect(partsForView(noText, 'text')).toEqual([]);
  });
});
