// The §17.7 exchange vector: committed exchange.json equals what the code builds, and every request,
// response and body in it passes the real verifiers and parsers, and Node's crypto on the bases alone.
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ackResponseSchema,
  parseAckBatch,
  withdrawQuerySchema,
  withdrawResponseSchema,
} from '../../../src/native/protocol/ack.js';
import type { KeyLookup } from '../../../src/native/protocol/ed25519.js';
import { MessageStreamReader } from '../../../src/native/protocol/message-framing.js';
import { originAligned, verifyManifestSignatures } from '../../../src/native/protocol/message-signature.js';
import {
  batchResponseSchema,
  checkNotice,
  parseNoticeBatch,
  statusResponseSchema,
} from '../../../src/native/protocol/notice.js';
import { verifyRequest, verifyResponse } from '../../../src/native/protocol/request-signature.js';
import { buildExchangeVector } from '../../vectors/exchange.js';

const file = new URL('../../vectors/exchange.json', import.meta.url);
const built = buildExchangeVector();
if (process.env.UPDATE_VECTORS === '1') writeFileSync(file, `${JSON.stringify(built, null, 2)}\n`);
// biome-ignore lint/suspicious/noExplicitAny: the vector is untyped JSON, read as another implementer would
const v: any = JSON.parse(readFileSync(file, 'utf8'));
// biome-ignore lint/suspicious/noExplicitAny: as above
const keyFile: any[] = JSON.parse(readFileSync(new URL('../../vectors/keys.json', import.meta.url), 'utf8'));
const rawKey = (domain: string) => Buffer.from(keyFile.find((k) => k.name === domain).public_key_hex, 'hex');
const lookup: KeyLookup = (domain, keyId) => (v.keys[domain] === keyId ? rawKey(domain) : undefined);
const nodeKey = (domain: string) =>
  createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: rawKey(domain).toString('base64url') }, format: 'jwk' });
const signatureOf = (headers: Record<string, string>) =>
  Buffer.from(/^pmtp=:([^:]+):$/.exec(headers.signature!)![1]!, 'base64');
const createdOf = (headers: Record<string, string>) => Number(/;created=(\d+)/.exec(headers['signature-input']!)![1]);
const STEPS = ['notice', 'pull', 'ack', 'status', 'withdraw'] as const;

describe('exchange.json', () => {
  it('equals what the code builds today', () => {
    expect(v).toEqual(JSON.parse(JSON.stringify(built)));
  });

  for (const step of STEPS) {
    it(`${step}: the request verifies, and its base verifies with Node's crypto alone`, async () => {
      const { request } = v[step];
      const to = step === 'pull' || step === 'ack' ? 'a.example' : 'b.example';
      const from = to === 'a.example' ? 'b.example' : 'a.example';
      const body = Buffer.from(request.body, 'utf8');
      const verdict = await verifyRequest(
        { method: request.method, url: request.url, headers: request.headers, body },
        { domain: to, now: createdOf(request.headers), keyLookup: lookup },
      );
      expect(verdict).toMatchObject({ ok: true, origin: from });
      expect(cryptoVerify(null, Buffer.from(request.signature_base), nodeKey(from), signatureOf(request.headers))).toBe(
        true,
      );
      const tampered = await verifyRequest(
        { method: request.method, url: request.url, headers: request.headers, body: Buffer.from(`${request.body} `) },
        { domain: to, now: createdOf(request.headers), keyLookup: lookup },
      );
      expect(tampered.ok).toBe(false);
    });
  }

  for (const step of ['notice', 'ack', 'status', 'withdraw'] as const) {
    it(`${step}: the response is signed by the domain asked and bound to the request`, async () => {
      const { request, response } = v[step];
      const from = step === 'ack' ? 'b.example' : 'a.example';
      const to = from === 'a.example' ? 'b.example' : 'a.example';
      const verdict = await verifyResponse(
        { status: response.status, headers: response.headers, body: Buffer.from(response.body, 'utf8') },
        {
          domain: from,
          now: createdOf(response.headers),
          keyLookup: lookup,
          requestHeaders: request.headers,
          expectedOrigin: to,
        },
      );
      expect(verdict).toMatchObject({ ok: true, origin: to });
      expect(cryptoVerify(null, Buffer.from(response.signature_base), nodeKey(to), signatureOf(response.headers))).toBe(
        true,
      );
      const otherRequest = v[step === 'ack' ? 'notice' : 'ack'].request.headers;
      const rebound = await verifyResponse(
        { status: response.status, headers: response.headers, body: Buffer.from(response.body, 'utf8') },
        {
          domain: from,
          now: createdOf(response.headers),
          keyLookup: lookup,
          requestHeaders: otherRequest,
          expectedOrigin: to,
        },
      );
      expect(rebound.ok).toBe(false);
    });
  }

  it('notice: the batch and the notice pass the recipient checks, and the answer parses', () => {
    const batch = parseNoticeBatch(JSON.parse(v.notice.request.body), {
      signedBy: 'a.example',
      domain: 'b.example',
      maxBatch: 50,
      maxBatchRecipients: 1000,
    });
    expect(batch.ok).toBe(true);
    if (!batch.ok) return;
    const notice = batch.value.notices[0]!;
    expect(
      checkNotice(notice, {
        destination: 'b.example',
        now: createdOf(v.notice.request.headers),
        maxLifetimeS: 30 * 86_400,
        originEndpoint: v.endpoints['a.example'],
      }).ok,
    ).toBe(true);
    expect(batchResponseSchema.safeParse(JSON.parse(v.notice.response.body)).success).toBe(true);
  });

  it('pull: the stream carries the announced manifest, verified signatures and every part', async () => {
    const notice = JSON.parse(v.notice.request.body).notices[0];
    const reader = new MessageStreamReader({ expectedDigest: notice.manifest_digest, view: 'full' });
    const events = reader.push(Buffer.from(v.pull.response.body_base64, 'base64'));
    expect(events.filter((e) => e.type === 'error')).toEqual([]);
    const head = events.find((e) => e.type === 'head');
    if (head?.type !== 'head') throw new Error('no head');
    const verdict = await verifyManifestSignatures({
      manifestDigest: head.manifestDigest,
      signatures: head.head.signatures,
      keyLookup: lookup,
      now: createdOf(v.pull.request.headers),
    });
    expect(verdict).toMatchObject({ ok: true, origin: 'a.example', servingDomain: 'a.example' });
    expect(originAligned(head.head.manifest, 'a.example')).toBe(true);
    const data = Buffer.concat(events.flatMap((e) => (e.type === 'part-data' ? [Buffer.from(e.data)] : [])));
    expect(data).toEqual(Buffer.concat(v.message.parts_base64.map((p: string) => Buffer.from(p, 'base64'))));
    expect(Number(v.pull.response.headers['content-length'])).toBe(
      Buffer.from(v.pull.response.body_base64, 'base64').length,
    );
  });

  it('ack, status and withdraw bodies parse; the withdraw query decodes to the UTF-8 recipient', () => {
    expect(parseAckBatch(JSON.parse(v.ack.request.body)).ok).toBe(true);
    expect(ackResponseSchema.safeParse(JSON.parse(v.ack.response.body)).success).toBe(true);
    expect(statusResponseSchema.safeParse(JSON.parse(v.status.response.body)).success).toBe(true);
    expect(withdrawResponseSchema.safeParse(JSON.parse(v.withdraw.response.body)).success).toBe(true);
    const url = new URL(v.withdraw.request.url);
    expect(url.search).toBe('?version=1&reason=retracted&recipient=bj%C3%B6rn%2Bnews%40b.example');
    const query = withdrawQuerySchema.parse(Object.fromEntries(url.searchParams));
    expect(query.recipient).toBe(v.withdraw.recipient);
  });
});
