// returned-content: what of the original message a DSN carries back (RFC 3461 §4.3 RET). RET=FULL
// gets the whole message up to a bound, like Postfix's bounce_size_limit; anything larger, and
// RET=HDRS or no RET, gets the header section. Reads a stream the caller opens; closes it.

import type { Readable } from 'node:stream';
import type { ReturnedContent } from '../mail/dsn.js';
import { readHeaderSection } from './header-section.js';

/** Postfix's bounce_size_limit default: a larger original is returned as its header section. */
export const RETURNED_MESSAGE_LIMIT = 50_000;

export async function returnedContent(
  open: () => Promise<Readable>,
  full: boolean,
  limit = RETURNED_MESSAGE_LIMIT,
): Promise<ReturnedContent> {
  if (full) {
    const stream = await open();
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > limit) break;
        chunks.push(chunk);
      }
    } finally {
      stream.destroy();
    }
    if (size <= limit) return { message: Buffer.concat(chunks, size) };
  }
  return { headers: await readHeaderSection(await open()) };
}
