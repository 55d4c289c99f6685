// Zod schemas for the scalar fields every PMTP/1 document shares: times, ids, domains, addresses,
// digests, signatures, URLs. One definition each, so all documents agree on their syntax.
import { z } from 'zod';
import { isAddress, isDomain } from './address.js';
import { isBase64Url } from './bytes.js';

/** Unix time in whole seconds. */
export const unixTime = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const positiveInt = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
export const domain = z.string().refine(isDomain, 'not a canonical lowercase domain');
export const address = z.string().refine(isAddress, 'not a PMTP address');
/** Message ids: 16–128 base64url characters, safe in URL paths; 22 random characters recommended. */
export const messageId = z.string().regex(/^[A-Za-z0-9_-]{16,128}$/, 'not a message id');
/** `ed25519:` + base64url(SHA-256(raw public key)). */
export const keyId = z.string().regex(/^ed25519:[A-Za-z0-9_-]{43}$/, 'not a key id');
export const sha256Digest = z.string().refine((s) => isBase64Url(s, 32), 'not a base64url SHA-256 digest');
export const ed25519Signature = z.string().refine((s) => isBase64Url(s, 64), 'not a base64url Ed25519 signature');
export const base64url = (minBytes: number, maxBytes: number) =>
  z.string().refine((s) => {
    const bytes = Buffer.from(s, 'base64url').length;
    return isBase64Url(s) && bytes >= minBytes && bytes <= maxBytes;
  }, `not base64url of ${minBytes}–${maxBytes} bytes`);

/** An https origin (no path, query, fragment or credentials); http only for loopback hosts. */
export function isEndpoint(text: string): boolean {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  if (url.origin !== text) return false;
  return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
}

export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

export const endpoint = z.string().refine(isEndpoint, 'not an https origin (http only on loopback)');
