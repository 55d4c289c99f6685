import { describe, expect, it } from 'vitest';
import { ed25519Sign } from '../../../src/native/protocol/ed25519.js';
import type { HeaderBag } from '../../../src/native/protocol/http-signature-base.js';
import {
  type SignOptions,
  signRequest,
  signResponse,
  type VerifyOptions,
  verifyRequest,
  verifyResponse,
} from '../../../src/native/protocol/request-signature.js';
import { KEYS, lookupOf, NOW } from './fixtures.js';

const url = 'https://mx.b.example/pmtp/v1/notices';
const body = Buffer.from('{"notices":[]}');
const signer = { domain: 'a.example', keyId: KEYS.a.keyId, privateKey: KEYS.a.privateKey };
const options: SignOptions = { signer, destination: 'b.example', body, created: NOW, nonce: 'bm9uY2Utbm9uY2Utbm9uY2U' };
const headers = signRequest({ method: 'POST', url }, options);
const lookup = lookupOf({ 'a.example': [KEYS.a], 'b.example': [KEYS.b] });
const verifyAt: VerifyOptions = { domain: 'b.example', now: NOW, keyLookup: lookup };

type Req = { method: string; url: string; headers: HeaderBag; body: Uint8Array };
const request: Req = { method: 'POST', url, headers, body };
const verify = (changes: Partial<Req> = {}, opts: Partial<VerifyOptions> = {}) =>
  verifyRequest({ ...request, ...changes }, { ...verifyAt, ...opts });
const code = async (changes: Partial<Req> = {}, opts: Partial<VerifyOptions> = {}) => {
  const result = await verify(changes, opts);
  return result.ok ? 'ok' : result.code;
};
const withHeaders = (extra: HeaderBag) => ({ headers: { ...headers, ...extra } });

describe('request signatures', () => {
  it('produces RFC 9421 headers with the PMTP component set', () => {
    expect(headers['signature-input']).toBe(
      `pmtp=("@method" "@target-uri" "@authority" "content-digest" "pmtp-origin" "pmtp-destination");created=${NOW};expires=${NOW + 60};nonce="bm9uY2Utbm9uY2Utbm9uY2U";keyid="${KEYS.a.keyId}";alg="ed25519";tag="pmtp1"`,
    );
    expect(headers.signature).toMatch(/^pmtp=:[A-Za-z0-9+/]{86}==:$/);
    expect(headers['pmtp-origin']).toBe('a.example');
  });

  it('verifies and exposes origin, key, nonce and expiry', async () => {
    expect(await verify()).toEqual({
      ok: true,
      origin: 'a.example',
      keyId: KEYS.a.keyId,
      nonce: 'bm9uY2Utbm9uY2Utbm9uY2U',
      created: NOW,
      expires: NOW + 60,
    });
  });

  it('tolerates header name case and array values', async () => {
    const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), [v]]));
    expect(await code({ headers: upper })).toBe('ok');
  });

  it('cannot be replayed to another domain', async () => {
    expect(await code({}, { domain: 'c.example' })).toBe('wrong_destination');
    expect(await code(withHeaders({ 'pmtp-destination': 'c.example' }), { domain: 'c.example' })).toBe(
      'signature_invalid',
    );
  });

  it('covers method, URI and authority', async () => {
    expect(await code({ method: 'PUT' })).toBe('signature_invalid');
    expect(await code({ url: 'https://mx.b.example/pmtp/v1/acks' })).toBe('signature_invalid');
    expect(await code({ url: 'https://other.b.example/pmtp/v1/notices' })).toBe('signature_invalid');
    expect(await code({ url: 'https://MX.B.EXAMPLE:443/pmtp/v1/notices' })).toBe('ok');
  });

  it('covers the body through content-digest', async () => {
    expect(await code({ body: Buffer.from('{"notices":[1]}') })).toBe('digest_mismatch');
    const other = Buffer.from('{}');
    const forgedDigest = signRequest({ method: 'POST', url }, { ...options, body: other })['content-digest'];
    expect(await code({ body: other, ...withHeaders({ 'content-digest': forgedDigest }) })).toBe('signature_invalid');
  });

  it('covers the origin header', async () => {
    const swapped = withHeaders({ 'pmtp-origin': 'c.example' });
    expect(await code(swapped)).toBe('unknown_key');
    // Even if c.example shared a's key (one host, two domains), the origin is part of what was signed.
    expect(await code(swapped, { keyLookup: lookupOf({ 'c.example': [KEYS.a] }) })).toBe('signature_invalid');
  });

  it('enforces the time window', async () => {
    expect(await code({}, { now: NOW + 60 + 60 })).toBe('ok');
    expect(await code({}, { now: NOW + 60 + 61 })).toBe('signature_expired');
    expect(await code({}, { now: NOW - 61 })).toBe('signature_not_yet_valid');
    const long = signRequest({ method: 'POST', url }, { ...options, expires: NOW + 301 });
    expect(await code({ headers: long })).toBe('signature_malformed');
  });

  it('needs a key the origin really has', async () => {
    const wrongKey = signRequest(
      { method: 'POST', url },
      { ...options, signer: { ...signer, privateKey: KEYS.b.privateKey } },
    );
    expect(await code({ headers: wrongKey })).toBe('signature_invalid');
    const unknown = signRequest(
      { method: 'POST', url },
      { ...options, signer: { ...signer, keyId: KEYS.c.keyId, privateKey: KEYS.c.privateKey } },
    );
    expect(await code({ headers: unknown })).toBe('unknown_key');
  });

  it('distinguishes missing from malformed', async () => {
    const { signature: _s, ...noSignature } = headers;
    expect(await code({ headers: noSignature })).toBe('signature_missing');
    expect(await code(withHeaders({ signature: 'other=:AAAA:' }))).toBe('signature_missing');
    expect(await code(withHeaders({ signature: 'pmtp=:AAAA:' }))).toBe('signature_malformed');
    expect(await code(withHeaders({ 'signature-input': 'pmtp=("@method");created=1' }))).toBe('signature_malformed');
    expect(
      await code(withHeaders({ 'signature-input': headers['signature-input']!.replace('ed25519"', 'rsa"') })),
    ).toBe('signature_malformed');
    expect(await code(withHeaders({ 'signature-input': 'pmtp=(' }))).toBe('signature_malformed');
    expect(await code({ url: 'not a url' })).toBe('signature_malformed');
    expect(await code({ method: 'PO\nST' })).toBe('signature_malformed');
    const { 'pmtp-origin': _o, ...noOrigin } = headers;
    expect(await code({ headers: noOrigin })).toBe('signature_malformed');
  });

  it('accepts the signature parameters only in the order §9.1 gives, without repeats', async () => {
    // Signed correctly over a base with its own parameter line, so only the order rule can refuse it.
    const resigned = (paramsTail: string) => {
      const paramsValue = `("@method" "@target-uri" "@authority" "content-digest" "pmtp-origin" "pmtp-destination")${paramsTail}`;
      const lines = [
        ['"@method"', 'POST'],
        ['"@target-uri"', url],
        ['"@authority"', 'mx.b.example'],
        ['"content-digest"', headers['content-digest']],
        ['"pmtp-origin"', 'a.example'],
        ['"pmtp-destination"', 'b.example'],
        ['"@signature-params"', paramsValue],
      ].map(([id, value]) => `${id}: ${value}`);
      const sig = ed25519Sign(KEYS.a.privateKey, Buffer.from(lines.join('\n')));
      return withHeaders({ 'signature-input': `pmtp=${paramsValue}`, signature: `pmtp=:${sig.toString('base64')}:` });
    };
    const n = 'nonce="bm9uY2Utbm9uY2Utbm9uY2U"';
    const k = `keyid="${KEYS.a.keyId}"`;
    expect(await code(resigned(`;created=${NOW};expires=${NOW + 60};${n};${k};alg="ed25519";tag="pmtp1"`))).toBe('ok');
    expect(await code(resigned(`;expires=${NOW + 60};created=${NOW};${n};${k};alg="ed25519";tag="pmtp1"`))).toBe(
      'signature_malformed',
    );
    expect(await code(resigned(`;created=${NOW};expires=${NOW + 60};${n};${k};alg="ed25519";tag="pmtp1";x=1`))).toBe(
      'signature_malformed',
    );
  });

  it('ignores signatures under other labels', async () => {
    const extra = withHeaders({
      'signature-input': `sig1=("@method");created=1, ${headers['signature-input']}`,
      signature: `sig1=:AAAA:, ${headers.signature}`,
    });
    expect(await code(extra)).toBe('ok');
  });
});

describe('response signatures', () => {
  const responseBody = Buffer.from('{"results":[]}');
  const bSigner = { domain: 'b.example', keyId: KEYS.b.keyId, privateKey: KEYS.b.privateKey };
  const responseHeaders = signResponse(
    { status: 200, requestHeaders: headers },
    { signer: bSigner, destination: 'a.example', body: responseBody, created: NOW },
  );
  const check = (status: number, requestHeaders: HeaderBag, expectedOrigin = 'b.example') =>
    verifyResponse(
      { status, headers: responseHeaders, body: responseBody },
      { domain: 'a.example', now: NOW, keyLookup: lookup, requestHeaders, expectedOrigin },
    );

  it('verifies a response bound to its request', async () => {
    expect(await check(200, headers)).toMatchObject({ ok: true, origin: 'b.example' });
  });

  it('fails for another request, another status or another signer', async () => {
    const otherRequest = signRequest({ method: 'POST', url }, { ...options, nonce: 'b3RoZXItbm9uY2Utb3RoZXI' });
    expect(await check(200, otherRequest)).toMatchObject({ ok: false, code: 'signature_invalid' });
    expect(await check(500, headers)).toMatchObject({ ok: false, code: 'signature_invalid' });
    expect(await check(200, headers, 'c.example')).toMatchObject({ ok: false, code: 'wrong_origin' });
  });
});
