// Password hashes for smtp.accounts: ours, `scrypt$N$r$p$salt$hash` (salt and hash base64url), and
// the Dovecot schemes Node can check unaided ({SHA512-CRYPT}, {SHA256-CRYPT}, {CRYPT} of those,
// {SSHA512}, {SSHA256}). Verification recomputes with the stored parameters, compares in constant time.

import { createHash, randomBytes, type ScryptOptions, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { parseShaCrypt, shaCryptHash } from './sha-crypt.js';

const defaults = { N: 32768, r: 8, p: 1 } as const;
const keyLength = 32;

function scrypt(password: string, salt: Buffer, length: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, length, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function options(N: number, r: number, p: number): ScryptOptions {
  // scrypt needs 128 * N * r bytes; leave head-room so Node's default 32 MiB cap does not bite
  return { N, r, p, maxmem: 256 * N * r + 1024 * 1024 };
}

export async function hashPassword(
  password: string,
  params: { N?: number; r?: number; p?: number } = {},
): Promise<string> {
  const { N, r, p } = { ...defaults, ...params };
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, keyLength, options(N, r, p));
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/** Dovecot schemes that need a library Node lacks: say so rather than call them malformed. */
const unsupportedSchemes = /^\{(BLF-CRYPT|ARGON2I|ARGON2ID|CRYPT\}\$2[abxy]?\$|MD5-CRYPT|DES-CRYPT|SCRAM-)/i;

/** Why `encoded` cannot be a `password_hash`, or undefined when it can. */
export function hashProblem(encoded: string): string | undefined {
  if (/^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=_-]+\$[A-Za-z0-9+/=_-]+$/.test(encoded)) return undefined;
  if (dovecotHash(encoded)) return undefined;
  if (unsupportedSchemes.test(encoded)) {
    return 'this Dovecot scheme cannot be checked here: rehash with `mailbridge passwd` or `doveadm pw -s SHA512-CRYPT`, or log in through smtp.dovecot_auth';
  }
  return 'must be an scrypt hash from `mailbridge passwd` or a Dovecot {SHA512-CRYPT}, {SHA256-CRYPT}, {SSHA512} or {SSHA256} hash';
}

type DovecotHash =
  | { readonly kind: 'sha-crypt'; readonly encoded: string }
  | {
      readonly kind: 'salted';
      readonly algorithm: 'sha256' | 'sha512';
      readonly digest: Buffer;
      readonly salt: Buffer;
    };

function dovecotHash(encoded: string): DovecotHash | undefined {
  const match = /^\{([A-Z0-9-]+)\}(.+)$/i.exec(encoded);
  if (!match) return undefined;
  const scheme = match[1]!.toUpperCase();
  const body = match[2]!;
  if (scheme === 'SHA512-CRYPT' || scheme === 'SHA256-CRYPT' || scheme === 'CRYPT') {
    const parts = parseShaCrypt(body);
    if (!parts) return undefined;
    if (scheme !== 'CRYPT' && parts.algorithm !== (scheme === 'SHA512-CRYPT' ? 'sha512' : 'sha256')) return undefined;
    return { kind: 'sha-crypt', encoded: body };
  }
  if (scheme === 'SSHA512' || scheme === 'SSHA256') {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) return undefined;
    const raw = Buffer.from(body, 'base64');
    const size = scheme === 'SSHA512' ? 64 : 32;
    // Dovecot's salt is at least 4 bytes
    if (raw.length < size + 4) return undefined;
    return {
      kind: 'salted',
      algorithm: scheme === 'SSHA512' ? 'sha512' : 'sha256',
      digest: raw.subarray(0, size),
      salt: raw.subarray(size),
    };
  }
  return undefined;
}

function verifyDovecot(password: string, hash: DovecotHash): boolean {
  if (hash.kind === 'salted') {
    const actual = createHash(hash.algorithm).update(password, 'utf8').update(hash.salt).digest();
    return timingSafeEqual(actual, hash.digest);
  }
  const parts = parseShaCrypt(hash.encoded)!;
  const actual = Buffer.from(shaCryptHash(password, parts));
  const expected = Buffer.from(parts.hash);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** False for a wrong password and for a malformed or unsafe hash; never throws. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const dovecot = dovecotHash(encoded);
  if (dovecot) return verifyDovecot(password, dovecot);
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  // N a power of two; bounds keep a bad config line from eating all memory
  if (!(N >= 2 && N <= 2 ** 20 && (N & (N - 1)) === 0 && r >= 1 && r <= 32 && p >= 1 && p <= 16)) return false;
  const salt = Buffer.from(parts[4]!, 'base64url');
  const expected = Buffer.from(parts[5]!, 'base64url');
  if (salt.length === 0 || expected.length < 16) return false;
  try {
    const actual = await scrypt(password, salt, expected.length, options(N, r, p));
    return timingSafeEqual(actual, expected);
  } catch {
    return false;
  }
}
