import { describe, expect, it } from 'vitest';
import { manifestDigest } from '../../../src/native/protocol/message-format.js';
import {
  type MessageSignature,
  originAligned,
  type SignatureRole,
  signManifest,
  verifyManifestSignatures,
} from '../../../src/native/protocol/message-signature.js';
import { KEYS, lookupOf, NOW, sampleManifest } from './fixtures.js';

const manifest = sampleManifest();
const digest = manifestDigest(manifest);
const lookup = lookupOf({ 'a.example': [KEYS.a], 'c.example': [KEYS.c], 'g.example': [KEYS.g] });

function add(
  previous: MessageSignature[],
  role: SignatureRole,
  domain: string,
  key = KEYS.a,
  created = NOW,
): MessageSignature[] {
  const sig = signManifest({
    manifestDigest: digest,
    previous,
    role,
    domain,
    keyId: key.keyId,
    privateKey: key.privateKey,
    created,
  });
  return [...previous, sig];
}

const chain = add(add(add([], 'origin', 'a.example'), 'author', 'c.example', KEYS.c), 'hop', 'g.example', KEYS.g);
const verify = (signatures: unknown, d = digest) =>
  verifyManifestSignatures({ manifestDigest: d, signatures, keyLookup: lookup, now: NOW });
const statuses = async (signatures: unknown, d = digest) => (await verify(signatures, d)).checks.map((c) => c.status);

describe('message signatures', () => {
  it('verifies origin, author and hop', async () => {
    const verdict = await verify(chain);
    expect(verdict).toMatchObject({ ok: true, origin: 'a.example', servingDomain: 'g.example' });
    expect(verdict.checks.map((c) => c.status)).toEqual(['valid', 'valid', 'valid']);
  });

  it('fails every signature for another manifest', async () => {
    const other = manifestDigest(sampleManifest({ headers: [['Subject', 'changed']] }));
    expect(await statuses(chain, other)).toEqual(['invalid', 'invalid', 'invalid']);
  });

  it('fails a signature made by a key other than the one named', async () => {
    const forged = add([], 'origin', 'a.example', KEYS.b).map((s) => ({ ...s, key_id: KEYS.a.keyId }));
    expect(await statuses(forged)).toEqual(['invalid']);
  });

  it('reports a key the domain does not have', async () => {
    expect(await statuses(add([], 'origin', 'a.example', KEYS.b))).toEqual(['unknown_key']);
  });

  it('a hop covers earlier signatures: dropping the author breaks it', async () => {
    const withoutAuthor = [chain[0], chain[2]];
    expect(await statuses(withoutAuthor)).toEqual(['valid', 'invalid']);
  });

  it('a hop covers earlier signatures: altering one breaks it', async () => {
    const altered = [chain[0], { ...chain[1]!, created: NOW - 1 }, chain[2]];
    expect(await statuses(altered)).toEqual(['valid', 'invalid', 'invalid']);
  });

  it('requires one origin, before any hop', async () => {
    expect((await verify(add([], 'author', 'c.example', KEYS.c))).ok).toBe(false);
    expect(await statuses([chain[0], chain[0]])).toEqual(['valid', 'misplaced']);
    const hopFirst = add([], 'hop', 'g.example', KEYS.g);
    expect(await statuses(add(hopFirst, 'origin', 'a.example'))).toEqual(['valid', 'misplaced']);
  });

  it('rejects signatures created more than 30 days before now, and keeps older-but-in-window ones', async () => {
    const thirtyDays = 30 * 24 * 3600;
    expect(await statuses(add([], 'origin', 'a.example', KEYS.a, NOW - thirtyDays - 1))).toEqual(['stale']);
    expect(await statuses(add([], 'origin', 'a.example', KEYS.a, NOW - thirtyDays))).toEqual(['valid']);
  });

  it('rejects signatures created in the future beyond the skew', async () => {
    expect(await statuses(add([], 'origin', 'a.example', KEYS.a, NOW + 301))).toEqual(['future']);
    expect(await statuses(add([], 'origin', 'a.example', KEYS.a, NOW + 300))).toEqual(['valid']);
  });

  it('never throws on junk', async () => {
    expect(await statuses([{ role: 'origin' }, 'x', null, chain[0]])).toEqual([
      'malformed',
      'malformed',
      'malformed',
      'valid',
    ]);
    expect(await statuses([{ ...chain[0]!, created: 1.5 }, chain[1], chain[2]])).toEqual([
      'malformed',
      'valid',
      'invalid',
    ]);
    expect((await verify({ not: 'an array' })).ok).toBe(false);
    expect((await verify([])).ok).toBe(false);
  });

  it('checks origin alignment with the from domain or the SMTP gateway', () => {
    expect(originAligned(manifest, 'a.example')).toBe(true);
    expect(originAligned(manifest, 'g.example')).toBe(false);
    const smtp = sampleManifest({ from: 'carol@legacy.example' });
    expect(originAligned(smtp, 'g.example')).toBe(false);
    const withGateway = { ...smtp, provenance: { gateway: 'g.example' } } as typeof smtp;
    expect(originAligned(withGateway, 'g.example')).toBe(true);
  });
});
