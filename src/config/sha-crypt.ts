// SHA-crypt, the `$5$` (SHA-256) and `$6$` (SHA-512) password hashes of glibc's crypt(3), which
// Dovecot stores as {SHA256-CRYPT} and {SHA512-CRYPT}: Ulrich Drepper's published algorithm,
// computed with node:crypto. Only verification needs it; rounds are capped so a line cannot stall us.

import { createHash } from 'node:crypto';

const alphabet = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const defaultRounds = 5000;
/** The spec allows up to 999,999,999; a hash costing more than this is refused rather than computed. */
export const maxShaCryptRounds = 1_000_000;

/** Byte triples of the final digest, in the order the spec encodes them (the last group is shorter). */
const order = {
  sha256: [
    [0, 10, 20],
    [21, 1, 11],
    [12, 22, 2],
    [3, 13, 23],
    [24, 4, 14],
    [15, 25, 5],
    [6, 16, 26],
    [27, 7, 17],
    [18, 28, 8],
    [9, 19, 29],
  ],
  sha512: [
    [0, 21, 42],
    [22, 43, 1],
    [44, 2, 23],
    [3, 24, 45],
    [25, 46, 4],
    [47, 5, 26],
    [6, 27, 48],
    [28, 49, 7],
    [50, 8, 29],
    [9, 30, 51],
    [31, 52, 10],
    [53, 11, 32],
    [12, 33, 54],
    [34, 55, 13],
    [56, 14, 35],
    [15, 36, 57],
    [37, 58, 16],
    [59, 17, 38],
    [18, 39, 60],
    [40, 61, 19],
    [62, 20, 41],
  ],
} as const;

export interface ShaCryptParts {
  readonly algorithm: 'sha256' | 'sha512';
  readonly rounds: number;
  /** whether `rounds=` was written (it is then repeated in the output) */
  readonly explicitRounds: boolean;
  readonly salt: string;
  readonly hash: string;
}

/** `$5$[rounds=N$]salt$hash` or `$6$...`; undefined when it is not one or its rounds are out of bounds. */
export function parseShaCrypt(encoded: string): ShaCryptParts | undefined {
  const match = /^\$([56])\$(?:rounds=(\d{1,10})\$)?([^$]{0,16})\$([./0-9A-Za-z]+)$/.exec(encoded);
  if (!match) return undefined;
  const rounds = match[2] === undefined ? defaultRounds : Math.max(1000, Number(match[2]));
  if (rounds > maxShaCryptRounds) return undefined;
  const algorithm = match[1] === '5' ? 'sha256' : 'sha512';
  const hash = match[4]!;
  if (hash.length !== (algorithm === 'sha256' ? 43 : 86)) return undefined;
  return { algorithm, rounds, explicitRounds: match[2] !== undefined, salt: match[3]!, hash };
}

/** The hash part of SHA-crypt for `password` with these parameters. */
export function shaCryptHash(password: string, parts: Pick<ShaCryptParts, 'algorithm' | 'rounds' | 'salt'>): string {
  const { algorithm, rounds } = parts;
  const p = Buffer.from(password, 'utf8');
  const s = Buffer.from(parts.salt, 'utf8');
  const digest = (...chunks: Buffer[]): Buffer => {
    const h = createHash(algorithm);
    for (const chunk of chunks) h.update(chunk);
    return h.digest();
  };
  const size = algorithm === 'sha256' ? 32 : 64;
  const b = digest(p, s, p);
  const a = createHash(algorithm).update(p).update(s);
  a.update(repeatTo(b, p.length));
  for (let n = p.length; n > 0; n >>= 1) a.update(n & 1 ? b : p);
  let c = a.digest();
  const dp = digest(...Array<Buffer>(p.length).fill(p));
  const pBytes = repeatTo(dp, p.length);
  const ds = digest(...Array<Buffer>(16 + c[0]!).fill(s));
  const sBytes = repeatTo(ds, s.length);
  for (let i = 0; i < rounds; i++) {
    const h = createHash(algorithm);
    h.update(i & 1 ? pBytes : c);
    if (i % 3 !== 0) h.update(sBytes);
    if (i % 7 !== 0) h.update(pBytes);
    h.update(i & 1 ? c : pBytes);
    c = h.digest();
  }
  let out = '';
  for (const [x, y, z] of order[algorithm]) out += encode24(c[x]!, c[y]!, c[z]!, 4);
  out += algorithm === 'sha256' ? encode24(0, c[31]!, c[30]!, 3) : encode24(0, 0, c[63]!, 2);
  if (out.length !== (size === 32 ? 43 : 86)) throw new Error('sha-crypt: bad output length');
  return out;
}

/** `source` repeated and cut to `length` bytes. */
function repeatTo(source: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i += source.length) source.copy(out, i, 0, Math.min(source.length, length - i));
  return out;
}

function encode24(b2: number, b1: number, b0: number, chars: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0;
  let out = '';
  for (let i = 0; i < chars; i++) {
    out += alphabet[w & 0x3f];
    w >>= 6;
  }
  return out;
}
