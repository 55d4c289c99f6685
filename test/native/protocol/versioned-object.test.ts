// §19 versions and extensions, one rule for every parser: unknown members are ignored (and kept, so
// signatures and digests cover them), `crit` members this receiver lacks and unknown `v` are refused.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAckBatch } from '../../../src/native/protocol/ack.js';
import { fetchUrl } from '../../../src/native/protocol/endpoints.js';
import { contentSize, manifestDigest, parseManifest } from '../../../src/native/protocol/message-format.js';
import { encodeMessageStream, MessageStreamReader } from '../../../src/native/protocol/message-framing.js';
import { verifyManifestSignatures } from '../../../src/native/protocol/message-signature.js';
import { parseNoticeBatch } from '../../../src/native/protocol/notice.js';
import { signStatement } from '../../../src/native/protocol/signed-statement.js';
import { extensionProblem } from '../../../src/native/protocol/versioned-object.js';
import { KEYS, lookupOf, NOW, originSignature, PART_DATA, sampleManifest } from './fixtures.js';

/** Member names no PMTP/1 object defines, with any JSON value. */
const extensionName = fc.stringMatching(/^x_[a-z0-9_]{1,12}$/);
/** Values canonical JSON (§3) can carry: integers, well-formed strings, and lists and maps of them. */
const text = fc.string({ unit: 'grapheme', maxLength: 12 });
const scalar = fc.oneof(fc.integer(), text, fc.boolean(), fc.constant(null));
const jsonValue = fc.oneof(scalar, fc.array(scalar, { maxLength: 4 }), fc.dictionary(text, scalar, { maxKeys: 4 }));
const lookup = lookupOf({ 'a.example': [KEYS.a] });

describe('extensionProblem', () => {
  it('lets v 1 and unknown members through, and refuses other versions with their own code', () => {
    expect(extensionProblem({ v: 1, x_new: true }, ['v'])).toBeUndefined();
    expect(extensionProblem({ v: 2 }, ['v'])).toMatchObject({ kind: 'version_unsupported' });
    expect(extensionProblem({ v: 'one' }, ['v'])).toBeUndefined(); // a malformed v is the schema's to refuse
  });

  it.each([
    ['empty crit', { crit: [] }],
    ['crit not a list', { crit: 'x_a' }],
    ['crit repeats a name', { crit: ['x_a', 'x_a'], x_a: 1 }],
    ['crit names a defined member', { crit: ['v'] }],
    ['crit names an absent member', { crit: ['x_a'] }],
  ])('treats %s as a malformed object', (_, object) => {
    expect(extensionProblem({ v: 1, ...object }, ['v', 'crit'])?.kind).toBe('malformed');
  });

  it('refuses a critical member it does not understand, and accepts one it does', () => {
    const object = { v: 1, crit: ['x_a'], x_a: 1 };
    expect(extensionProblem(object, ['v', 'crit'])).toMatchObject({ kind: 'critical_member_unknown' });
    expect(extensionProblem(object, ['v', 'crit'], ['x_a'])).toBeUndefined();
  });
});

describe('manifest, head and message signatures', () => {
  it('keep unknown members, so the digest and the signatures cover them (property)', async () => {
    await fc.assert(
      fc.asyncProperty(extensionName, jsonValue, async (name, value) => {
        const manifest = { ...sampleManifest(), [name]: value };
        const parsed = parseManifest(manifest);
        expect(parsed.ok).toBe(true);
        if (!parsed.ok) return;
        expect(manifestDigest(parsed.value)).toBe(manifestDigest(manifest));
        expect(manifestDigest(parsed.value)).not.toBe(manifestDigest(sampleManifest()));
      }),
      { numRuns: 50 },
    );
  });

  it('reads a stream whose manifest and signature carry extension members, over the bytes sent', async () => {
    const manifest = { ...sampleManifest(), x_label: 'blue' };
    const digest = manifestDigest(manifest);
    const unsigned = {
      role: 'origin' as const,
      domain: 'a.example',
      key_id: KEYS.a.keyId,
      alg: 'ed25519' as const,
      created: NOW,
      x_hint: [1, 2],
    };
    const sig = signStatement('pmtp1/message-signature', { ...unsigned, manifest_digest: digest }, KEYS.a.privateKey);
    const signature = { ...unsigned, sig };
    const stream = encodeMessageStream(
      { manifest, signatures: [signature] },
      PART_DATA.map((data, index) => ({ index, data })),
    );
    const reader = new MessageStreamReader({ expectedDigest: digest });
    const events = reader.push(stream);
    const head = events.find((e) => e.type === 'head');
    expect(events.filter((e) => e.type === 'error')).toEqual([]);
    expect(head).toMatchObject({ manifestDigest: digest });
    if (head?.type !== 'head') return;
    const verdict = await verifyManifestSignatures({
      manifestDigest: head.manifestDigest,
      signatures: head.head.signatures,
      keyLookup: lookup,
      now: NOW,
    });
    expect(verdict.checks.map((c) => c.status)).toEqual(['valid']);
    // Dropping the unknown member (what a stripping parser would do) breaks the signature.
    const { x_hint: _dropped, ...stripped } = signature;
    const broken = await verifyManifestSignatures({
      manifestDigest: digest,
      signatures: [stripped],
      keyLookup: lookup,
      now: NOW,
    });
    expect(broken.checks.map((c) => c.status)).toEqual(['invalid']);
  });

  it('refuses a manifest of another version or with a critical member it lacks', () => {
    expect(parseManifest({ ...sampleManifest(), v: 2 })).toMatchObject({ ok: false, code: 'version_unsupported' });
    expect(parseManifest({ ...sampleManifest(), crit: ['x_a'], x_a: 1 })).toMatchObject({
      ok: false,
      code: 'critical_member_unknown',
    });
    expect(parseManifest({ ...sampleManifest(), crit: ['from'] })).toMatchObject({
      ok: false,
      code: 'manifest_invalid',
    });
  });

  it('a plain origin signature still verifies (no extension members involved)', async () => {
    const manifest = sampleManifest();
    const verdict = await verifyManifestSignatures({
      manifestDigest: manifestDigest(manifest),
      signatures: [originSignature(manifest)],
      keyLookup: lookup,
      now: NOW,
    });
    expect(verdict.ok).toBe(true);
  });
});

describe('request bodies', () => {
  const manifest = sampleManifest();
  const notice = {
    id: manifest.id,
    version: 1,
    size: contentSize(manifest),
    manifest_digest: manifestDigest(manifest),
    sender: 'alice@a.example',
    recipients: ['bob@b.example'],
    expires: NOW + 3600,
    fetch: fetchUrl('https://mx.a.example', manifest.id),
  };
  const batch = { v: 1, origin: 'a.example', destination: 'b.example', notices: [notice] };
  const context = { signedBy: 'a.example', domain: 'b.example', maxBatch: 50, maxBatchRecipients: 1000 };
  const ack = {
    v: 1,
    origin: 'b.example',
    destination: 'a.example',
    acks: [
      {
        id: manifest.id,
        version: 1,
        manifest_digest: notice.manifest_digest,
        recipients: [{ recipient: 'bob@b.example', result: 'delivered' }],
      },
    ],
  };

  it('ignore unknown members at every level (property)', () => {
    fc.assert(
      fc.property(extensionName, jsonValue, (name, value) => {
        const noticeBatch = { ...batch, [name]: value, notices: [{ ...notice, [name]: value }] };
        expect(parseNoticeBatch(noticeBatch, context)).toMatchObject({ ok: true });
        expect(parseAckBatch({ ...ack, [name]: value })).toMatchObject({ ok: true });
      }),
      { numRuns: 50 },
    );
  });

  it('accept a body without v as version 1', () => {
    const { v: _v, ...unversioned } = batch;
    expect(parseNoticeBatch(unversioned, context).ok).toBe(true);
  });

  it('refuse another version and unknown critical members with typed codes', () => {
    expect(parseNoticeBatch({ ...batch, v: 2 }, context)).toMatchObject({ code: 'version_unsupported' });
    expect(parseNoticeBatch({ ...batch, crit: ['x_a'], x_a: 1 }, context)).toMatchObject({
      code: 'critical_member_unknown',
    });
    expect(parseNoticeBatch({ ...batch, crit: [] }, context)).toMatchObject({ code: 'batch_invalid' });
    expect(parseAckBatch({ ...ack, v: 7 })).toMatchObject({ code: 'version_unsupported' });
    expect(parseAckBatch({ ...ack, crit: ['x_a'], x_a: 1 })).toMatchObject({ code: 'critical_member_unknown' });
    expect(parseAckBatch({ ...ack, acks: [] })).toMatchObject({ code: 'malformed_request' });
  });
});
