// outgoing-message: the bytes one delivery sends, as a stream: the message source (the seam where
// the PMTP → RFC 5322 translate step plugs in), our Received header on top, then a DKIM signature.

import { Readable } from 'node:stream';
import type { Spool, SpoolEntry } from '../spool/spool.js';
import { withoutFields } from '../translate/header-filter.js';
import { isPmtpToken } from '../translate/header-mapping.js';

/**
 * Produces the RFC 5322 bytes to send for a spool entry. Today: the spooled bytes, less any
 * PMTP-Token field.
 * When src/translate lands, PMTP-born entries get a source that converts them.
 */
export type MessageSource = (entry: SpoolEntry) => Promise<Readable>;

export function spooledBytes(spool: Spool): MessageSource {
  // a sender token (PMTP-Token) is for PMTP recipients' domains, never for an SMTP hop
  return async (entry) =>
    Readable.from(withoutFields((await spool.openBody(entry)).stream, isPmtpToken), { objectMode: false });
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
