// Ed25519 key handling: raw 32-byte keys or Node KeyObjects in, sign and verify out.
// Verification never throws: any malformed key or signature simply fails.
import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { ProtocolError } from './protocol-error.js';

/** A private key: a KeyObject or the 32-byte RFC 8032 seed. */
export type PrivateKeyInput = KeyObject | Uint8Array;
/** A public key: a KeyObject or the raw 32-byte RFC 8032 public key. */
export type PublicKeyInput = KeyObject | Uint8Array;

/**
 * Finds the public key `keyId` of `domain` that was valid at time `at` (Unix seconds), or undefined.
 * Callers back it with verified key sets (see keyValidAt); it may be async because they fetch them.
 */
export type KeyLookup = (
  domain: string,
  keyId: string,
  at: number,
) => PublicKeyInput | undefined | Promise<PublicKeyInput | undefined>;

const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function checkEd25519(key: KeyObject): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519') throw new ProtocolError('key_invalid', 'not an Ed25519 key');
  return key;
}

export function privateKeyFromSeed(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new ProtocolError('key_invalid', 'Ed25519 seed must be 32 bytes');
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

/** Peers' keys imported lately, by their raw bytes: importing one per verify cost 3-4% of a gateway. */
const importedKeys = new Map<string, KeyObject>();
/** Enough for every key of every peer a gateway talks to at once; the oldest import goes first. */
const IMPORTED_KEYS_MAX = 1024;

export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new ProtocolError('key_invalid', 'Ed25519 public key must be 32 bytes');
  const id = Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('latin1');
  const cached = importedKeys.get(id);
  if (cached) {
    // most recently used last, so the first entry is the one to drop
    importedKeys.delete(id);
    importedKeys.set(id, cached);
    return cached;
  }
  const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
  importedKeys.set(id, key);
  if (importedKeys.size > IMPORTED_KEYS_MAX) importedKeys.delete(importedKeys.keys().next().value!);
  return key;
}

export function toPrivateKey(key: PrivateKeyInput): KeyObject {
  const object = key instanceof Uint8Array ? privateKeyFromSeed(key) : key;
  if (object.type !== 'private') throw new ProtocolError('key_invalid', 'a private key is required');
  return checkEd25519(object);
}

export function toPublicKey(key: PublicKeyInput): KeyObject {
  const object = key instanceof Uint8Array ? publicKeyFromRaw(key) : key;
  return checkEd25519(object.type === 'private' ? createPublicKey(object) : object);
}

/** Raw 32-byte public key of a public or private key. */
export function rawPublicKey(key: PublicKeyInput): Buffer {
  const jwk = toPublicKey(key).export({ format: 'jwk' });
  return Buffer.from(jwk.x ?? '', 'base64url');
}

/** The 32-byte seed of a private key. */
export function rawSeed(key: PrivateKeyInput): Buffer {
  const jwk = toPrivateKey(key).export({ format: 'jwk' });
  return Buffer.from(jwk.d ?? '', 'base64url');
}

export function ed25519Sign(key: PrivateKeyInput, data: Uint8Array): Buffer {
  return sign(null, data, toPrivateKey(key));
}

export function ed25519Verify(key: PublicKeyInput, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    return signature.length === 64 && verify(null, data, toPublicKey(key), signature);
  } catch {
    return false;
  }
}
