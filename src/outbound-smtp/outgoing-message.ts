// outgoing-message: the bytes one delivery sends, as a stream: the message source (the seam where
// the PMTP → RFC 5322 translate step plugs in), our Received header on top, then a DKIM signature.
// Also reads a message's header section, bounded, for DSNs.

import { Readable } from 'node:stream';
import type { Spool, SpoolEntry } from '../spool/spool.js';

/**
 * Produces the RFC 5322 bytes to send for a spool entry. Today: the spooled bytes as they are.
 * When src/translate lands, PMTP-born entries get a source that converts them.
 */
export type MessageSource = (entry: SpoolEntry) => Promise<Readable>;

export function spooledBytes(spool: Spool): MessageSource {
  return async (entry) => (await spool.openBody(entry.queueId)).stream;
}

/** `header` then every byte of `body`; destroying the result destroys the body too. */
export function prepend(header: string, body: Readable): Readable {
  async function* joined(): AsyncGenerator<Buffer> {
    yield Buffer.from(header, 'latin1');
    yield* body;
  }
  const out = Readable.from(joined(), { objectMode: false });
  // a generator never started or parked at the header would leave the body's file open
  out.once('close', () => body.destroy());
  return out;
}

/** The header section up to and including the empty line, at most `limit` bytes of it. */
export async function headerSection(body: Readable, limit = 64 * 1024): Promise<string> {
  let seen = Buffer.alloc(0);
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      seen = Buffer.concat([seen, chunk]);
      const end = seen.indexOf('\r\n\r\n');
      if (end >= 0 && end + 4 <= limit) return seen.subarray(0, end + 4).toString('utf8');
      if (end >= 0 || seen.length >= limit) break;
    }
  } finally {
    body.destroy();
  }
  const cut = seen.subarray(0, limit);
  // a cut-off section still ends on a whole line so the DSN part stays well-formed
  const lastLine = cut.lastIndexOf('\r\n');
  return `${cut.subarray(0, lastLine >= 0 ? lastLine + 2 : 0).toString('utf8')}\r\n`;
}
