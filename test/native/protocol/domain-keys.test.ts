import { describe, expect, it } from 'vitest';
import { sha256Base64Url } from '../../../src/native/protocol/bytes.js';
import {
  currentKeyEntry,
  domainKeyFromSeed,
  generateDomainKey,
  type KeySet,
  keyIdOf,
  keySetLookup,
  keyValidAt,
  oldKeyEntry,
  signKeySet,
  type UnsignedKeySet,
  verifyKeySet,
} from '../../../src/native/protocol/domain-keys.js';
import { ed25519Sign, ed25519Verify } from '../../../src/native/protocol/ed25519.js';
import { KEYS, NOW } from './fixtures.js';

const DAY = 86_400;
const unsigned: UnsignedKeySet = {
  v: 1,
  domain: 'a.example',
  published: NOW,
  keys: [currentKeyEntry(KEYS.a.publicKey, NOW + 30 * DAY)],
  old_keys: [oldKeyEntry(KEYS.aOld.publicKey, NOW - DAY)],
};
const keySet = signKeySet(unsigned, [KEYS.a.privateKey]);
const check = (doc: unknown, options: Partial<Parameters<typeof verifyKeySet>[1]> = {}) =>
  verifyKeySet(doc, { domain: 'a.example', now: NOW, ...options });

describe('domain keys', () => {
  it('derives RFC 8032 public keys from seeds', () => {
    expect(KEYS.a.publicKey.toString('hex')).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    expect(ed25519Sign(KEYS.a.seed, Buffer.alloc(0)).toString('hex')).toBe(
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    );
  });

  it('key id is ed25519: + base64url(SHA-256(raw public key))', () => {
    expect(KEYS.a.keyId).toBe(`ed25519:${sha256Base64Url(KEYS.a.publicKey)}`);
    expect(keyIdOf(KEYS.a.privateKey)).toBe(KEYS.a.keyId);
  });

  it('generates usable keys whose PEM and seed forms agree', () => {
    const key = generateDomainKey();
    expect(domainKeyFromSeed(key.seed).keyId).toBe(key.keyId);
    expect(key.privatePem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(key.publicPem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    const sig = ed25519Sign(key.privateKey, Buffer.from('x'));
    expect(ed25519Verify(key.publicKey, Buffer.from('x'), sig)).toBe(true);
    expect(ed25519Verify(KEYS.a.publicKey, Buffer.from('x'), sig)).toBe(false);
  });
});

describe('key sets', () => {
  it('verifies a key set signed by a current key', () => {
    expect(check(keySet)).toMatchObject({ ok: true });
    expect(check(keySet, { pinnedKeyId: KEYS.a.keyId })).toMatchObject({ ok: true });
  });

  it('refuses to sign with a key that is not current in the set', () => {
    expect(() => signKeySet(unsigned, [KEYS.aOld.privateKey])).toThrow();
  });

  it('rejects tampering', () => {
    const tampered: KeySet = { ...keySet, keys: [{ ...keySet.keys[0]!, valid_until: NOW + 999 * DAY }] };
    expect(check(tampered)).toMatchObject({ ok: false, code: 'keyset_invalid' });
  });

  it('rejects a set signed only by a key not in keys (attacker adds their own signature)', () => {
    const attacker = signKeySet({ ...unsigned, keys: [currentKeyEntry(KEYS.b.publicKey, NOW + DAY)] }, [
      KEYS.b.privateKey,
    ]);
    const spliced = { ...keySet, signatures: attacker.signatures };
    expect(check(spliced)).toMatchObject({ ok: false, code: 'keyset_invalid' });
  });

  it('rejects another domain, an unpinned signer, an expired set', () => {
    expect(check(keySet, { domain: 'b.example' })).toMatchObject({ ok: false, code: 'keyset_wrong_domain' });
    expect(check(keySet, { pinnedKeyId: KEYS.b.keyId })).toMatchObject({ ok: false, code: 'keyset_unpinned' });
    expect(check(keySet, { now: NOW + 31 * DAY })).toMatchObject({ ok: false, code: 'keyset_expired' });
  });

  it('rejects a key id that is not the key fingerprint, and duplicates', () => {
    const lying = signKeySet({ ...unsigned, keys: [{ ...unsigned.keys[0]!, key_id: KEYS.b.keyId }] }, []);
    expect(check({ ...lying, signatures: keySet.signatures })).toMatchObject({ ok: false, code: 'keyset_malformed' });
    const dup = { ...keySet, old_keys: [oldKeyEntry(KEYS.a.publicKey, NOW)] };
    expect(check(dup)).toMatchObject({ ok: false, code: 'keyset_malformed' });
    expect(check({ ...keySet, extra: true })).toMatchObject({ ok: false, code: 'keyset_malformed' });
  });

  it('signing with two keys lets the DNS pin move during rotation', () => {
    const rotating = signKeySet(
      { ...unsigned, keys: [...unsigned.keys, currentKeyEntry(KEYS.c.publicKey, NOW + DAY)] },
      [KEYS.a.privateKey, KEYS.c.privateKey],
    );
    expect(check(rotating, { pinnedKeyId: KEYS.a.keyId }).ok).toBe(true);
    expect(check(rotating, { pinnedKeyId: KEYS.c.keyId }).ok).toBe(true);
  });
});

describe('keyValidAt (rotation)', () => {
  it('an old key verifies signatures made before its expiry, not after', () => {
    expect(keyValidAt(keySet, KEYS.aOld.keyId, NOW - DAY - 1)).toMatchObject({ ok: true });
    expect(keyValidAt(keySet, KEYS.aOld.keyId, NOW - DAY)).toMatchObject({ ok: false, code: 'key_expired' });
  });

  it('a current key is valid up to and including valid_until', () => {
    expect(keyValidAt(keySet, KEYS.a.keyId, NOW + 30 * DAY)).toMatchObject({ ok: true });
    expect(keyValidAt(keySet, KEYS.a.keyId, NOW + 30 * DAY + 1)).toMatchObject({ ok: false, code: 'key_expired' });
  });

  it('unknown keys are unknown', () => {
    expect(keyValidAt(keySet, KEYS.b.keyId, NOW)).toMatchObject({ ok: false, code: 'unknown_key' });
  });

  it('keySetLookup returns raw public keys only when valid', async () => {
    const lookup = keySetLookup((d) => (d === 'a.example' ? keySet : undefined));
    expect(await lookup('a.example', KEYS.a.keyId, NOW)).toEqual(KEYS.a.publicKey);
    expect(await lookup('a.example', KEYS.aOld.keyId, NOW)).toBeUndefined();
    expect(await lookup('b.example', KEYS.a.keyId, NOW)).toBeUndefined();
  });
});
