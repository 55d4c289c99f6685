// The committed vectors are the source of truth: they must equal what the code produces today, and
// they must verify through the public verify functions and, where possible, through Node's crypto alone.
import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canonicalJson, parseCanonicalJson } from '../../../src/native/protocol/canonical-json.js';
import { verifyDelegation } from '../../../src/native/protocol/delegation.js';
import { parseDiscoveryRecord } from '../../../src/native/protocol/dns-discovery.js';
import { keyValidAt, verifyKeySet } from '../../../src/native/protocol/domain-keys.js';
import type { KeyLookup } from '../../../src/native/protocol/ed25519.js';
import { MessageStreamReader, type StreamEvent } from '../../../src/native/protocol/message-framing.js';
import { verifyManifestSignatures } from '../../../src/native/protocol/message-signature.js';
import { leadingZeroBits, verifySolution } from '../../../src/native/protocol/proof-of-work.js';
import { verifyRequest, verifyResponse } from '../../../src/native/protocol/request-signature.js';
import { verifySenderToken } from '../../../src/native/protocol/sender-token.js';
import { buildVectors, VECTOR_NOW } from '../../vectors/generate.js';

// biome-ignore lint/suspicious/noExplicitAny: the vectors are untyped JSON, read as other implementers would
const load = (name: string): any => JSON.parse(readFileSync(new URL(`../../vectors/${name}`, import.meta.url), 'utf8'));
const built = buildVectors();
if (process.env.UPDATE_VECTORS === '1') {
  for (const [name, content] of Object.entries(built)) {
    writeFileSync(new URL(`../../vectors/${name}`, import.meta.url), `${JSON.stringify(content, null, 2)}\n`);
  }
}

describe('vectors equal the current output', () => {
  for (const [name, content] of Object.entries(built)) {
    it(name, () => {
      expect(load(name)).toEqual(content);
    });
  }
});

const keys: Array<{ name: string; seed_hex: string; public_key_hex: string; key_id: string }> = load('keys.json');
const rawKey = (name: string) => Buffer.from(keys.find((k) => k.name === name)!.public_key_hex, 'hex');
const nodeKey = (name: string) =>
  createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: rawKey(name).toString('base64url') }, format: 'jwk' });
const lookup: KeyLookup = (domain, keyId) => {
  const k = keys.find((entry) => entry.name === domain && entry.key_id === keyId);
  return k ? Buffer.from(k.public_key_hex, 'hex') : undefined;
};
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest();

describe('vectors verify independently', () => {
  it('keys: RFC 8032 public keys and key ids', () => {
    expect(rawKey('a.example').toString('hex')).toBe(
      'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    );
    expect(rawKey('b.example').toString('hex')).toBe(
      'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    );
    for (const k of keys)
      expect(k.key_id).toBe(`ed25519:${sha256(Buffer.from(k.public_key_hex, 'hex')).toString('base64url')}`);
  });

  it('canonical JSON', () => {
    const v = load('canonical-json.json');
    for (const { input, canonical, canonical_hex } of v.valid) {
      expect(canonicalJson(input)).toBe(canonical);
      expect(Buffer.from(canonical).toString('hex')).toBe(canonical_hex);
    }
    for (const text of v.invalid_values) expect(() => canonicalJson(JSON.parse(text))).toThrow();
    for (const text of v.non_canonical) expect(() => parseCanonicalJson(Buffer.from(text))).toThrow();
  });

  it('message: digest, part digests, signatures, streams', async () => {
    const v = load('message.json');
    expect(canonicalJson(v.manifest)).toBe(v.manifest_canonical);
    expect(sha256(v.manifest_canonical).toString('base64url')).toBe(v.manifest_digest);
    for (const [i, p] of (v.parts_base64 as string[]).entries()) {
      expect(sha256(Buffer.from(p, 'base64')).toString('base64url')).toBe(v.manifest.parts[i].sha256);
    }
    const verdict = await verifyManifestSignatures({
      manifestDigest: v.manifest_digest,
      signatures: v.signatures,
      keyLookup: lookup,
      now: VECTOR_NOW,
    });
    expect(verdict).toMatchObject({ ok: true, origin: 'a.example', servingDomain: 'g.example' });
    const hopSig = Buffer.from(v.signatures[2].sig, 'base64url');
    expect(cryptoVerify(null, Buffer.from(v.hop_signing_input_hex, 'hex'), nodeKey('g.example'), hopSig)).toBe(true);
    const read = (b64: string, view: 'full' | 'text') => {
      const reader = new MessageStreamReader({ expectedDigest: v.notice.manifest_digest, view });
      return [...reader.push(Buffer.from(b64, 'base64')), ...reader.finish()].filter(
        (e: StreamEvent) => e.type === 'end' || e.type === 'error',
      );
    };
    expect(read(v.stream_full_base64, 'full')).toEqual([{ type: 'end', parts: [0, 1, 2] }]);
    expect(read(v.stream_text_base64, 'text')).toEqual([{ type: 'end', parts: [0] }]);
  });

  it('key set and DNS record', () => {
    const v = load('keyset.json');
    const pin = parseDiscoveryRecord(v.dns_txt);
    expect(pin.ok).toBe(true);
    expect(
      verifyKeySet(v.keyset, { domain: 'a.example', now: v.now, pinnedKeyId: pin.ok ? pin.value.fingerprint : '' }),
    ).toMatchObject({ ok: true });
    const sig = Buffer.from(v.keyset.signatures[0].sig, 'base64url');
    expect(cryptoVerify(null, Buffer.from(v.signing_input_hex, 'hex'), nodeKey('a.example'), sig)).toBe(true);
    const revoking = verifyKeySet(v.revoking_keyset, { domain: 'a.example', now: v.now });
    expect(revoking.ok).toBe(true);
    const oldId = keys.find((k) => k.name === 'a.example (old)')!.key_id;
    expect(revoking.ok && keyValidAt(revoking.value, oldId, v.now - 86_400 * 2)).toMatchObject({ code: 'key_revoked' });
  });

  it('request and response signatures', async () => {
    const v = load('request-signature.json');
    const sigOf = (h: Record<string, string>) => Buffer.from(h.signature!.slice('pmtp=:'.length, -1), 'base64');
    expect(cryptoVerify(null, Buffer.from(v.signature_base), nodeKey('a.example'), sigOf(v.headers))).toBe(true);
    expect(
      cryptoVerify(null, Buffer.from(v.response_signature_base), nodeKey('b.example'), sigOf(v.response_headers)),
    ).toBe(true);
    const body = Buffer.from(v.request.body);
    const request = { method: v.request.method, url: v.request.url, headers: v.headers, body };
    expect(await verifyRequest(request, { domain: 'b.example', now: v.sign.created, keyLookup: lookup })).toMatchObject(
      { ok: true },
    );
    const response = { status: v.response.status, headers: v.response_headers, body: Buffer.from(v.response.body) };
    const context = {
      domain: 'a.example',
      now: VECTOR_NOW,
      keyLookup: lookup,
      requestHeaders: v.headers,
      expectedOrigin: 'b.example',
    };
    expect(await verifyResponse(response, context)).toMatchObject({ ok: true });
  });

  it('sender token, delegation, proof of work, DNS records', async () => {
    const t = load('sender-token.json');
    const tokenContext = { sender: t.valid_for_sender, recipient: t.input.recipient, now: t.now, keyLookup: lookup };
    expect(await verifySenderToken(t.token, tokenContext)).toMatchObject({ ok: true });
    const d = load('delegation.json');
    expect(
      await verifyDelegation(d.proof, {
        recipient: d.input.recipient,
        endpoint: d.input.endpoint,
        now: d.now,
        keyLookup: lookup,
      }),
    ).toMatchObject({ ok: true });
    expect(Buffer.from(d.proof.delegate_key, 'base64url').toString('hex')).toBe(d.input.delegate_key_hex);
    const p = load('proof-of-work.json');
    const powContext = {
      secret: Buffer.from(p.secret_hex, 'hex'),
      now: p.now,
      noticeId: p.input.noticeId,
      sender: p.input.sender,
      recipient: p.input.recipient,
    };
    expect(verifySolution(p.challenge, p.solution, powContext)).toMatchObject({
      ok: true,
      value: { stampId: p.challenge_id },
    });
    expect(sha256(`${p.challenge_id}:${p.solution}`).toString('hex')).toBe(p.work_hash_hex);
    expect(leadingZeroBits(Buffer.from(p.work_hash_hex, 'hex'))).toBeGreaterThanOrEqual(p.input.bits);
    const dns = load('dns-txt.json');
    for (const r of dns.valid)
      expect(parseDiscoveryRecord(r.text)).toEqual({
        ok: true,
        value: { endpoint: r.endpoint, fingerprint: r.fingerprint },
      });
    for (const text of dns.invalid) expect(parseDiscoveryRecord(text).ok).toBe(false);
  });

  it('delegation: the proof and a pull the delegate signs with its own key', async () => {
    const d = load('delegation.json');
    const delegateRaw = Buffer.from(d.input.delegate_key_hex, 'hex');
    const delegateNode = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: delegateRaw.toString('base64url') },
      format: 'jwk',
    });
    expect(`ed25519:${sha256(delegateRaw).toString('base64url')}`).toBe(d.delegate_key_id);
    const { sig, ...unsigned } = d.proof;
    const input = Buffer.concat([Buffer.from('pmtp1/delegation\0'), Buffer.from(canonicalJson(unsigned))]);
    expect(input.toString('hex')).toBe(d.signing_input_hex);
    expect(cryptoVerify(null, input, nodeKey('b.example'), Buffer.from(sig, 'base64url'))).toBe(true);
    const pull = d.delegate_pull;
    const pullSig = Buffer.from(pull.headers.signature.slice('pmtp=:'.length, -1), 'base64');
    expect(cryptoVerify(null, Buffer.from(pull.signature_base), delegateNode, pullSig)).toBe(true);
    expect(pull.headers['signature-input']).toContain(`keyid="${d.delegate_key_id}"`);
    // the origin finds the key in the grant the proof made, not in b.example's key set
    const grantLookup: KeyLookup = (domain, keyId) =>
      domain === d.proof.domain && keyId === d.delegate_key_id ? delegateRaw : undefined;
    const request = { ...pull.request, headers: pull.headers, body: Buffer.alloc(0) };
    expect(await verifyRequest(request, { domain: 'a.example', now: d.now, keyLookup: grantLookup })).toMatchObject({
      ok: true,
      origin: 'b.example',
      keyId: d.delegate_key_id,
    });
    expect(await verifyRequest(request, { domain: 'a.example', now: d.now, keyLookup: lookup })).toMatchObject({
      code: 'unknown_key',
    });
  });
});
