// pmtp-to-rfc5322: a PMTP message → RFC 5322 bytes for the next SMTP hop, streamed. If the message
// carries its original SMTP bytes they go out unchanged (so the sender's DKIM signature still verifies)
// under the caller's trace fields; otherwise MIME is composed from the parts for the hop's abilities.

import { rfc5322Date, traceBlock } from '../mail/trace-fields.js';
import { domainOf } from '../native/protocol/address.js';
import type { Header, Manifest } from '../native/protocol/message-format.js';
import { encodeHeaders } from './header-encoding.js';
import { type FieldTest, withoutFields } from './header-filter.js';
import { isNeverCopied } from './header-mapping.js';
import { mimeBody, type PartReader } from './mime-body.js';
import { verified } from './octets.js';
import { wireGuard } from './wire-guard.js';

export type { PartReader } from './mime-body.js';

/** What the next hop announced in its EHLO reply. */
export interface NextHop {
  readonly smtputf8: boolean;
  readonly eightBitMime: boolean;
}

export interface Rfc5322Options {
  /** whole header fields for the top, topmost first: Received, Authentication-Results (trace-fields.ts) */
  readonly trace: readonly string[];
  readonly hop: NextHop;
  /**
   * Default true: send the original part when there is one. After a TranslateError from that path
   * (`original_mismatch`, `smtputf8_required`, `eightbit_required`, `dot_line`, `bare_newline`)
   * the caller calls again with false and the message is composed from its parts.
   */
  readonly useOriginal?: boolean;
  /** fields left out of the copy, from the original bytes and the manifest alike (header-mapping's `strippedOnDelivery`) */
  readonly strip?: FieldTest;
}

/**
 * The message's bytes. Errors found before the first byte (a bad trace field, a header with no
 * 7-bit form) are thrown here; errors in part bytes are thrown by the iterator while it streams,
 * so a half-sent DATA must be aborted by the caller.
 */
export function pmtpToRfc5322(manifest: Manifest, read: PartReader, options: Rfc5322Options): AsyncIterable<Buffer> {
  const trace = traceBlock(options.trace);
  const { smtputf8, eightBitMime } = options.hop;
  const originalIndex = manifest.parts.findIndex((p) => p.role === 'original-rfc5322');
  const original = manifest.parts[originalIndex];
  if (original && options.useOriginal !== false) {
    const strip = options.strip;
    const bytes = lazy(() => {
      const checked = verified(read(originalIndex), original, 'original_mismatch');
      return strip ? withoutFields(checked, strip) : checked;
    });
    return wireGuard(concat([trace], bytes), { smtputf8, eightBitMime, dotLines: 'reject' });
  }
  const created = new Date(manifest.created * 1000);
  const headers = completeHeaders(manifest, created, options.strip);
  const messageId = headers.find(([name]) => name.toLowerCase() === 'message-id')![1];
  const section = Buffer.from(encodeHeaders(headers, smtputf8), 'utf8');
  return wireGuard(concat([trace, section], mimeBody(manifest, read, created, messageId)), {
    smtputf8,
    eightBitMime,
    dotLines: 'escape',
  });
}

/** Manifest headers minus MIME structure (the composer writes its own), plus the From, Date and Message-ID RFC 5322 requires. */
function completeHeaders(manifest: Manifest, created: Date, strip: FieldTest | undefined): Header[] {
  const headers = manifest.headers.filter(([name, value]) => !isNeverCopied(name) && !strip?.(name, value));
  const has = (name: string) => headers.some(([n]) => n.toLowerCase() === name);
  const added: Header[] = [];
  if (!has('from')) added.push(['From', manifest.from]);
  if (!has('date')) added.push(['Date', rfc5322Date(created)]);
  // stable across retries, so a resend after a failed attempt is recognisably the same message
  if (!has('message-id')) added.push(['Message-ID', `<${manifest.id}@${domainOf(manifest.from)}>`]);
  return [...added, ...headers];
}

/** Opens the source only when the first byte is wanted, so an unread result holds nothing open. */
async function* lazy(open: () => AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  yield* open();
}

async function* concat(head: readonly Buffer[], rest: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  for (const bytes of head) if (bytes.length > 0) yield bytes;
  yield* rest;
}
