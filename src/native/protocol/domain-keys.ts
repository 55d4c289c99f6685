// Domain keys: Ed25519 key generation, key ids, and the self-signed key set a domain publishes at
// /.well-known/pmtp/keys (current keys with valid_until, old keys with expired_at), so keys rotate
// without breaking mail that was signed before a key retired.

import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import type { StatusCode } from '../../codes.js';
import { sha256Base64Url, toBase64Url, tryFromBase64Url } from './bytes.js';
import {
  type KeyLookup,
  type PrivateKeyInput,
  type PublicKeyInput,
  privateKeyFromSeed,
  rawPublicKey,
  rawSeed,
  toPublicKey,
} from './ed25519.js';
import { describeIssue, fail, ok, type Result } from './protocol-error.js';
import { base64url, domain, ed25519Signature, keyId, unixTime } from './protocol-fields.js';
import { signStatement, verifyStatement } from './signed-statement.js';

export interface DomainKey {
  keyId: string;
  seed: Buffer;
  publicKey: Buffer;
  privateKey: KeyObject;
  privatePem: string;
  publicPem: string;
}

/** `ed25519:` + base64url(SHA-256(raw 32-byte public key)): stable, self-certifying, URL-safe. */
export function keyIdOf(key: PublicKeyInput): string {
  return `ed25519:${sha256Base64Url(rawPublicKey(key))}`;
}

export function domainKeyFromSeed(seed: Uint8Array): DomainKey {
  const privateKey = privateKeyFromSeed(seed);
  const publicKey = rawPublicKey(privateKey);
  return {
    keyId: keyIdOf(publicKey),
    seed: rawSeed(privateKey),
    publicKey,
    privateKey,
    privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicPem: toPublicKey(privateKey).export({ format: 'pem', type: 'spki' }).toString(),
  };
}

export function generateDomainKey(): DomainKey {
  return domainKeyFromSeed(rawSeed(generateKeyPairSync('ed25519').privateKey));
}

const publicKeyField = base64url(32, 32);
export const keySetSchema = z.strictObject({
  v: z.literal(1),
  domain,
  published: unixTime,
  keys: z
    .array(z.strictObject({ key_id: keyId, public_key: publicKeyField, valid_until: unixTime }))
    .min(1)
    .max(20),
  old_keys: z.array(z.strictObject({ key_id: keyId, public_key: publicKeyField, expired_at: unixTime })).max(100),
  // keys the domain withdrew: never trusted again, whatever a cached set said (§8.7)
  revoked: z
    .array(z.strictObject({ key_id: keyId, revoked_at: unixTime }))
    .max(100)
    .optional(),
  signatures: z
    .array(z.strictObject({ key_id: keyId, sig: ed25519Signature }))
    .min(1)
    .max(20),
});
export type KeySet = z.infer<typeof keySetSchema>;
export type UnsignedKeySet = Omit<KeySet, 'signatures'>;

/** A `keys` entry for a current key. */
export function currentKeyEntry(publicKey: PublicKeyInput, validUntil: number): KeySet['keys'][number] {
  return { key_id: keyIdOf(publicKey), public_key: toBase64Url(rawPublicKey(publicKey)), valid_until: validUntil };
}

/** An `old_keys` entry for a retired key. */
export function oldKeyEntry(publicKey: PublicKeyInput, expiredAt: number): KeySet['old_keys'][number] {
  return { key_id: keyIdOf(publicKey), public_key: toBase64Url(rawPublicKey(publicKey)), expired_at: expiredAt };
}

export type KeySetErrorCode = Extract<
  StatusCode,
  'keyset_malformed' | 'keyset_wrong_domain' | 'keyset_invalid' | 'keyset_expired' | 'keyset_unpinned'
>;

/** Signs with each given key; every one of them must be listed in `keys`. */
export function signKeySet(unsigned: UnsignedKeySet, signers: readonly PrivateKeyInput[]): KeySet {
  const signatures = signers.map((privateKey) => {
    const id = keyIdOf(privateKey instanceof Uint8Array ? privateKeyFromSeed(privateKey) : privateKey);
    if (!unsigned.keys.some((k) => k.key_id === id))
      throw new TypeError(`signer ${id} is not a current key of the set`);
    return { key_id: id, sig: signStatement('pmtp1/keyset', unsigned, privateKey) };
  });
  return { ...unsigned, signatures };
}

export interface VerifyKeySetOptions {
  /** The domain whose key set this should be. */
  domain: string;
  now: number;
  /** Key id pinned by DNS (`fp=`) or static config; that key must have signed the set. */
  pinnedKeyId?: string;
}

/**
 * Accepts a key set only if: it parses strictly; it names the expected domain; every key id is the
 * fingerprint of its key and appears once; at least one current key is still valid at `now`; and a
 * current, still-valid key (the pinned one, if given) signed it.
 */
export function verifyKeySet(document: unknown, options: VerifyKeySetOptions): Result<KeySet, KeySetErrorCode> {
  const parsed = keySetSchema.safeParse(document);
  if (!parsed.success) return fail('keyset_malformed', describeIssue(parsed.error));
  const set = parsed.data;
  if (set.domain !== options.domain) return fail('keyset_wrong_domain', `key set is for ${set.domain}`);
  const all = [...set.keys, ...set.old_keys];
  const revoked = set.revoked ?? [];
  const ids = new Set([...all, ...revoked].map((k) => k.key_id));
  if (ids.size !== all.length + revoked.length) return fail('keyset_malformed', 'duplicate key id');
  for (const key of all) {
    const raw = tryFromBase64Url(key.public_key);
    if (!raw || keyIdOf(raw) !== key.key_id) {
      return fail('keyset_malformed', `key id ${key.key_id} is not its key's fingerprint`);
    }
  }
  const live = set.keys.filter((k) => k.valid_until >= options.now);
  if (live.length === 0) return fail('keyset_expired', 'no current key is valid any more');
  const { signatures, ...unsigned } = set;
  const signedBy = signatures.filter((s) => {
    const key = live.find((k) => k.key_id === s.key_id);
    return (
      key !== undefined && verifyStatement('pmtp1/keyset', unsigned, s.sig, Buffer.from(key.public_key, 'base64url'))
    );
  });
  if (signedBy.length === 0) return fail('keyset_invalid', 'not signed by a current key of the set');
  if (options.pinnedKeyId !== undefined && !signedBy.some((s) => s.key_id === options.pinnedKeyId)) {
    return fail('keyset_unpinned', `not signed by pinned key ${options.pinnedKeyId}`);
  }
  return ok(set);
}

/**
 * The public key `keyId` if it was valid at `when`: a current key up to and including valid_until,
 * an old key strictly before expired_at; a revoked key never.
 */
export function keyValidAt(
  set: KeySet,
  id: string,
  when: number,
): Result<Buffer, 'unknown_key' | 'key_expired' | 'key_revoked'> {
  const withdrawn = set.revoked?.find((k) => k.key_id === id);
  if (withdrawn) return fail('key_revoked', `revoked at ${withdrawn.revoked_at}`);
  const current = set.keys.find((k) => k.key_id === id);
  if (current) {
    if (current.valid_until < when) return fail('key_expired', `valid until ${current.valid_until}`);
    return ok(Buffer.from(current.public_key, 'base64url'));
  }
  const old = set.old_keys.find((k) => k.key_id === id);
  if (old) {
    if (old.expired_at <= when) return fail('key_expired', `expired at ${old.expired_at}`);
    return ok(Buffer.from(old.public_key, 'base64url'));
  }
  return fail('unknown_key', `${id} is not in the key set of ${set.domain}`);
}

/** A KeyLookup over verified key sets, for the verify functions of the other modules. */
export function keySetLookup(setFor: (domain: string) => KeySet | undefined | Promise<KeySet | undefined>): KeyLookup {
  return async (forDomain, id, at) => {
    const set = await setFor(forDomain);
    const found = set ? keyValidAt(set, id, at) : undefined;
    return found?.ok ? found.value : undefined;
  };
}
