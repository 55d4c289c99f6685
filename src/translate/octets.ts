// octets: streaming helpers for part bytes. Lengths and SHA-256 digests are computed as the bytes
// pass, never after buffering them, and a reader checks a part against its manifest entry while it
// streams, failing as soon as the bytes overrun the declared length.
import { createHash } from 'node:crypto';
import type { Part } from '../native/protocol/message-format.js';
import { TranslateError, type TranslateErrorCode } from './translate-error.js';

export class OctetDigest {
  length = 0;
  private readonly hash = createHash('sha256');

  update(bytes: Buffer): void {
    this.length += bytes.length;
    this.hash.update(bytes);
  }

  /** base64url SHA-256, the manifest's spelling. Call once. */
  sha256(): string {
    return this.hash.digest('base64url');
  }
}

export function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** Passes `source` through, throwing `code` once it is longer than `part.length` or its digest differs. */
export async function* verified(
  source: AsyncIterable<Uint8Array>,
  part: Part,
  code: TranslateErrorCode,
): AsyncGenerator<Buffer> {
  const digest = new OctetDigest();
  for await (const chunk of source) {
    const bytes = asBuffer(chunk);
    digest.update(bytes);
    if (digest.length > part.length)
      throw new TranslateError(code, `part is longer than its declared ${part.length} bytes`);
    yield bytes;
  }
  if (digest.length !== part.length || digest.sha256() !== part.sha256) {
    throw new TranslateError(code, `part does not match its declared length and SHA-256`);
  }
}

/**
 * Text with every line ending as CRLF, the canonical form of text/* (RFC 2046 §4.1.1): a lone CR
 * or LF is a line break in text, and SMTP carries neither bare.
 */
export async function* crlfLines(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let pendingCR = false;
  for await (const chunk of source) {
    let text = chunk.toString('latin1');
    if (pendingCR) text = `\r${text}`;
    pendingCR = text.endsWith('\r');
    if (pendingCR) text = text.slice(0, -1);
    yield Buffer.from(text.replace(/\r\n|\r|\n/g, '\r\n'), 'latin1');
  }
  if (pendingCR) yield Buffer.from('\r\n', 'latin1');
}
