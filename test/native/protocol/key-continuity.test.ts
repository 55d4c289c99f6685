// Key-set continuity (§8.8) and revocation (§8.7): a set signed by a key trusted before continues the
// trust, an unrelated set or one signed only by a key it revokes does not, and a revoked key never
// verifies a signature, whatever time it names.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  currentKeyEntry,
  type DomainKey,
  type KeySet,
  keyValidAt,
  signKeySet,
  verifyKeySet,
} from '../../../src/native/protocol/domain-keys.js';
import { continuityOf, keySetSigners, trustRecordOf } from '../../../src/native/protocol/key-continuity.js';
import { KEYS, NOW } from './fixtures.js';

const POOL = [KEYS.a, KEYS.aOld, KEYS.b, KEYS.c, KEYS.g];

function setOf(published: DomainKey[], signers: DomainKey[], revoked: DomainKey[] = []): KeySet {
  return signKeySet(
    {
      v: 1,
      domain: 'a.example',
      published: NOW,
      keys: published.map((k) => currentKeyEntry(k.publicKey, NOW + 86_400)),
      old_keys: [],
      ...(revoked.length > 0 ? { revoked: revoked.map((k) => ({ key_id: k.keyId, revoked_at: NOW })) } : {}),
    },
    signers.map((k) => k.privateKey),
  );
}

describe('continuityOf', () => {
  const trusted = trustRecordOf(setOf([KEYS.a], [KEYS.a]), NOW, 'dns');

  it('takes a first set as first contact', () => {
    expect(continuityOf(undefined, setOf([KEYS.b], [KEYS.b]))).toEqual({ ok: true, value: 'first' });
  });

  it('follows a rotation whose set both keys sign', () => {
    expect(continuityOf(trusted, setOf([KEYS.a, KEYS.b], [KEYS.a, KEYS.b]))).toEqual({ ok: true, value: 'continuous' });
  });

  it('refuses a set swapped for an unrelated one', () => {
    expect(continuityOf(trusted, setOf([KEYS.b], [KEYS.b]))).toMatchObject({ ok: false, code: 'keyset_discontinuous' });
  });

  it('refuses a set whose only trusted signature is by a key it revokes', () => {
    expect(continuityOf(trusted, setOf([KEYS.b], [KEYS.b], [KEYS.a]))).toMatchObject({
      ok: false,
      code: 'keyset_discontinuous',
    });
  });

  it('does not count a signature entry that does not verify', () => {
    const forged = setOf([KEYS.a, KEYS.b], [KEYS.b]);
    forged.signatures.push({ key_id: KEYS.a.keyId, sig: forged.signatures[0]!.sig });
    expect(keySetSigners(forged)).toEqual([KEYS.b.keyId]);
    expect(continuityOf(trusted, forged)).toMatchObject({ ok: false, code: 'keyset_discontinuous' });
  });

  it('is continuous exactly when a trusted, unrevoked key signed the new set', () => {
    const subset = fc.subarray(POOL, { minLength: 1 });
    fc.assert(
      fc.property(subset, subset, subset, fc.subarray(POOL), (before, published, signerPick, revoked) => {
        const signers = signerPick.filter((k) => published.includes(k));
        fc.pre(signers.length > 0);
        const next = setOf(
          published,
          signers,
          revoked.filter((k) => !published.includes(k)),
        );
        const record = trustRecordOf(setOf(before, before), NOW, 'dns');
        const revokedIds = new Set((next.revoked ?? []).map((k) => k.key_id));
        const expected = signers.some((k) => before.includes(k) && !revokedIds.has(k.keyId));
        expect(continuityOf(record, next).ok).toBe(expected);
      }),
    );
  });
});

describe('revoked keys in a key set', () => {
  it('never yield a key, and a set naming a key as both current and revoked is malformed', () => {
    const set = setOf([KEYS.b], [KEYS.b], [KEYS.a]);
    expect(verifyKeySet(set, { domain: 'a.example', now: NOW }).ok).toBe(true);
    expect(keyValidAt(set, KEYS.a.keyId, NOW - 1000)).toMatchObject({ ok: false, code: 'key_revoked' });
    expect(keyValidAt(set, KEYS.b.keyId, NOW)).toMatchObject({ ok: true });
    const both = setOf([KEYS.a], [KEYS.a], [KEYS.a]);
    expect(verifyKeySet(both, { domain: 'a.example', now: NOW })).toMatchObject({
      ok: false,
      code: 'keyset_malformed',
    });
  });
});
