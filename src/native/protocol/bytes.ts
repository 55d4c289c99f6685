// Byte encodings and hashing used across PMTP/1: strict base64url/base64 and SHA-256.
// Decoders are strict (one spelling per byte string) so that signed text cannot be re-spelled.
import { createHash } from 'node:crypto';

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

/** Unpadded base64url; rejects padding, other alphabets and non-zero trailing bits. */
export function tryFromBase64Url(text: string): Buffer | undefined {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

/** True when `text` is canonical base64url of exactly `byteLength` bytes (any length if omitted). */
export function isBase64Url(text: string, byteLength?: number): boolean {
  const bytes = tryFromBase64Url(text);
  return bytes !== undefined && (byteLength === undefined || bytes.length === byteLength);
}

/** Padded standard base64, as RFC 8941 byte sequences use. */
export function tryFromBase64(text: string): Buffer | undefined {
  if (!BASE64.test(text) || text.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

export function sha256(data: Uint8Array | string): Buffer {
  return createHash('sha256').update(data).digest();
}

export function sha256Base64Url(data: Uint8Array | string): string {
  return sha256(data).toString('base64url');
}
