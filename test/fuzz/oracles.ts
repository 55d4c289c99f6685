// The fuzz oracles, one per target, shared by the fast-check suites and the coverage-guided fuzzer:
// each takes an input, runs the code under test and throws (vitest expect) when a contract breaks.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { expect } from 'vitest';
import { MailbridgeError } from '../../src/codes.js';
import { MessageDataFilter } from '../../src/inbound-smtp/data-filter.js';
import { canonicalBytes, parseCanonicalJson } from '../../src/native/protocol/canonical-json.js';
import { fieldValue, type HeaderBag, requestDerivedComponents } from '../../src/native/protocol/http-signature-base.js';
import { manifestBytes, parseManifest } from '../../src/native/protocol/message-format.js';
import {
  encodeMessageStream,
  MessageStreamReader,
  type StreamEvent,
  type StreamReaderOptions,
} from '../../src/native/protocol/message-framing.js';
import { ProtocolError } from '../../src/native/protocol/protocol-error.js';
import { signRequest, verifyRequest } from '../../src/native/protocol/request-signature.js';
import { rfc5322ToPmtp } from '../../src/translate/rfc5322-to-pmtp.js';
import { TranslateError } from '../../src/translate/translate-error.js';
import { KEYS, lookupOf, NOW, originSignature, PART_DATA, sampleManifest } from '../native/protocol/fixtures.js';
import { ARRIVAL, chunked, memorySink } from '../translate/support.js';

/** Canonical JSON + manifest: only ProtocolError; whatever parses re-encodes to the same bytes. */
export function checkCanonical(bytes: Buffer): void {
  let value;
  try {
    value = parseCanonicalJson(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return;
  }
  expect(canonicalBytes(value).equals(bytes)).toBe(true);
  const manifest = parseManifest(value);
  if (manifest.ok) expect(manifestBytes(manifest.value).equals(bytes)).toBe(true);
}

export const framedManifest = sampleManifest();
export const validFramedStream = encodeMessageStream(
  { manifest: framedManifest, signatures: [originSignature(framedManifest)] },
  PART_DATA.map((data, index) => ({ index, data })),
);

/** A chunking-independent account of the reader's events; checks the digest oracle on the way. */
function summarise(events: StreamEvent[]): string {
  const data = new Map<number, Buffer[]>();
  const out: string[] = [];
  for (const e of events) {
    if (e.type === 'part-data') data.set(e.index, [...(data.get(e.index) ?? []), e.data]);
    else if (e.type === 'head') out.push(`head ${e.manifestDigest}`);
    else if (e.type === 'part-start') out.push(`start ${e.index} ${e.length}`);
    else if (e.type === 'part-end') {
      const bytes = Buffer.concat(data.get(e.index) ?? []);
      expect(createHash('sha256').update(bytes).digest('base64url')).toBe(framedManifest.parts[e.index]!.sha256);
      out.push(`end ${e.index} ${bytes.toString('hex')}`);
    } else if (e.type === 'end') out.push(`done ${e.parts.join(',')}`);
    else out.push(`error ${e.code}`);
  }
  expect(out.filter((o) => o.startsWith('error') || o.startsWith('done')).length).toBeLessThanOrEqual(1);
  return out.join('\n');
}

/** Framed PMTP message stream read from these chunks. */
export function readFramed(chunks: Buffer[], options: StreamReaderOptions): string {
  const reader = new MessageStreamReader(options);
  return summarise([...chunks.flatMap((c) => reader.push(c)), ...reader.finish()]);
}

const signedUrl = 'https://mx.b.example/pmtp/v1/notices';
export const signedBody = Buffer.from('{"notices":[]}');
const signer = { domain: 'a.example', keyId: KEYS.a.keyId, privateKey: KEYS.a.privateKey };
export const signedHeaders = signRequest(
  { method: 'POST', url: signedUrl },
  { signer, destination: 'b.example', body: signedBody, created: NOW, nonce: 'bm9uY2Utbm9uY2Utbm9uY2U' },
);
export const verifyOptions = {
  domain: 'b.example',
  now: NOW,
  keyLookup: lookupOf({ 'a.example': [KEYS.a], 'b.example': [KEYS.b] }),
};
export type SignedRequest = { method: string; url: string; headers: HeaderBag; body: Uint8Array };
export const signedRequest: SignedRequest = {
  method: 'POST',
  url: signedUrl,
  headers: signedHeaders,
  body: signedBody,
};
const covered = ['content-digest', 'pmtp-origin', 'pmtp-destination'];

/** What the signature covers, as the verifier reads it. */
const coveredView = (r: SignedRequest) =>
  JSON.stringify([
    requestDerivedComponents(r.method, r.url),
    covered.map((n) => fieldValue(r.headers, n)),
    Buffer.from(r.body).toString('base64'),
  ]);

/** The verifier never throws, and verifies only a request whose covered parts are unchanged. */
export async function checkSignedRequest(r: SignedRequest): Promise<void> {
  const result = await verifyRequest(r, verifyOptions);
  if (result.ok) {
    expect(coveredView(r)).toBe(coveredView(signedRequest));
    expect(result).toMatchObject({
      origin: 'a.example',
      keyId: KEYS.a.keyId,
      nonce: 'bm9uY2Utbm9uY2Utbm9uY2U',
      created: NOW,
    });
  }
}

/** A conversion that has not settled by then is a hang. */
const SETTLE_MS = 5_000;

/** rfc5322ToPmtp with the given chunk sizes: a manifest or a TranslateError, summarised chunking-independently. */
export async function convertRfc5322(bytes: Buffer, sizes: number[]): Promise<string> {
  const { sink, parts } = memorySink();
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`did not settle within ${SETTLE_MS} ms`)), SETTLE_MS)),
  );
  try {
    const manifest = await Promise.race([rfc5322ToPmtp(chunked(bytes, sizes), ARRIVAL, sink), hang]);
    return JSON.stringify([manifest, parts.map((p) => p.toString('base64'))]);
  } catch (err) {
    if (!(err instanceof TranslateError)) throw err;
    return `TranslateError ${err.code}`;
  } finally {
    clearTimeout(timer);
  }
}

export const BARE = /\r(?!\n)|(?<!\r)\n/;

/** The SMTP ingress normaliser: output never holds a bare CR or LF; failures are MailbridgeErrors. */
export async function filterIngress(chunks: Buffer[], bareNewlines: 'reject' | 'normalise'): Promise<string> {
  const f = new MessageDataFilter({ bareNewlines, maxLineBytes: 64, maxHeaderBytes: 256 });
  try {
    const out = (await buffer(Readable.from(chunks).pipe(f))).toString('latin1');
    expect(BARE.test(out)).toBe(false);
    return `ok ${out}`;
  } catch (err) {
    expect(err).toBeInstanceOf(MailbridgeError);
    return `error ${(err as MailbridgeError).code}`;
  }
}
