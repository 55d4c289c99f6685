// rfc5322-to-pmtp: converts the exact bytes accepted over SMTP into a PMTP manifest, streaming each
// content part's octets to a caller's sink while counting and hashing them, and hashing the input
// itself as the `original-rfc5322` part. Pure: ids, times and verdicts come from the caller.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type AttachmentStream, MailParser, type MessageText, type StructuredHeader } from 'mailparser';
import {
  MAX_PARTS,
  type Manifest,
  type Part,
  type Provenance,
  parseManifest,
} from '../native/protocol/message-format.js';
import { fromAddress, manifestHeaders } from './header-mapping.js';
import { HeaderSectionCollector, parseHeaderSection } from './header-section.js';
import { asBuffer, OctetDigest } from './octets.js';
import { TranslateError } from './translate-error.js';

export type PartMeta = Omit<Part, 'length' | 'sha256'>;

/**
 * Receives one content part: its manifest index, its description, and its octets, which it must
 * read to the end before resolving (e.g. `pipeline(octets, createWriteStream(path))`). Called once
 * per part in index order, never concurrently: attachments as they stream past, then the text body
 * and HTML (which the parser completes last). The original part is not sent: it is the caller's
 * own input (already in the spool), so it is hashed rather than copied a second time; it is the
 * manifest's last part.
 */
export type PartSink = (index: number, meta: PartMeta, octets: AsyncIterable<Buffer>) => Promise<void>;

export interface SmtpArrival {
  /** PMTP message id, derived by the caller (e.g. from the queue id) */
  readonly id: string;
  /** unix seconds, from the caller's clock */
  readonly created: number;
  readonly provenance: Provenance;
  /** this gateway's authserv-ids: Authentication-Results claiming them are dropped as forged */
  readonly ownAuthservIds?: readonly string[];
}

// Structure only: no HTML→text or text→HTML synthesis (slow on hostile input), no link detection,
// no MD5 (we hash with SHA-256), and embedded messages and delivery reports stay whole parts.
const PARSER_OPTIONS = {
  skipHtmlToText: true,
  skipTextToHtml: true,
  skipTextLinks: true,
  skipImageLinks: true,
  checksumAlgo: false,
  ignoreEmbedded: true,
  keepDeliveryStatus: true,
} as const;

const MEDIA_TYPE = /^[A-Za-z0-9][\w!#$&^.+-]*\/[A-Za-z0-9][\w!#$&^.+-]*$/;

export async function rfc5322ToPmtp(
  source: AsyncIterable<Uint8Array>,
  arrival: SmtpArrival,
  sink: PartSink,
): Promise<Manifest> {
  const original = new OctetDigest();
  const header = new HeaderSectionCollector();
  async function* tee(): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      const bytes = asBuffer(chunk);
      original.update(bytes);
      header.push(bytes);
      yield bytes;
    }
  }
  const parser = new MailParser(PARSER_OPTIONS);
  const feeding = pipeline(Readable.from(tee()), parser);
  feeding.catch(() => undefined); // surfaced through the parser's iterator, and awaited below
  const parts: Part[] = [];
  let text: MessageText | undefined;
  let current: AttachmentStream | undefined;
  // a parser error mid-attachment (mailsplit's child-node cap) never ends that attachment's
  // stream; without this the sink would wait on it forever
  parser.on('error', (err: Error) => {
    const stream = current?.content;
    if (!stream || stream.destroyed) return;
    // a sink that already stopped reading has no listener left; the error is reported below anyway
    stream.on('error', () => undefined);
    stream.destroy(err);
  });
  try {
    for await (const item of parser as AsyncIterable<AttachmentStream | MessageText>) {
      if (item.type === 'text') {
        text = item;
        continue;
      }
      // leave room for the text body, its HTML alternative and the original
      if (parts.length >= MAX_PARTS - 3)
        throw new TranslateError('too_many_parts', `more than ${MAX_PARTS - 3} attachments`);
      current = item;
      try {
        parts.push(await attachmentPart(sink, parts.length, item));
      } finally {
        current = undefined;
      }
    }
    await feeding;
  } catch (err) {
    parser.destroy();
    if ((err as { code?: string }).code === 'EMAXLEN')
      throw new TranslateError('too_many_parts', (err as Error).message);
    throw err;
  }
  for (const [meta, content] of textParts(text))
    parts.push(await writePart(sink, parts.length, meta, oneChunk(content)));
  parts.push({ type: 'message/rfc822', role: 'original-rfc5322', length: original.length, sha256: original.sha256() });

  const fields = parseHeaderSection(header.section());
  const from = fromAddress(fields) ?? (arrival.provenance.mail_from || undefined);
  if (!from) throw new TranslateError('from_missing', 'no usable From address and a null reverse-path');
  const manifest: Manifest = {
    v: 1,
    id: arrival.id,
    version: 1,
    from,
    headers: manifestHeaders(fields, arrival.ownAuthservIds),
    parts,
    provenance: arrival.provenance,
    created: arrival.created,
  };
  const checked = parseManifest(manifest);
  if (!checked.ok) throw new TranslateError('manifest_invalid', checked.detail);
  return checked.value;
}

/** Streams one part to the sink, measuring it on the way; the sink must read every octet. */
async function writePart(sink: PartSink, index: number, meta: PartMeta, octets: AsyncIterable<Buffer>): Promise<Part> {
  const digest = new OctetDigest();
  let complete = false;
  async function* measured(): AsyncGenerator<Buffer> {
    for await (const chunk of octets) {
      digest.update(chunk);
      yield chunk;
    }
    complete = true;
  }
  await sink(index, meta, measured());
  if (!complete) throw new TranslateError('sink_incomplete', `sink returned before reading part ${index} to its end`);
  return { ...meta, length: digest.length, sha256: digest.sha256() };
}

async function attachmentPart(sink: PartSink, index: number, item: AttachmentStream): Promise<Part> {
  try {
    return await writePart(sink, index, attachmentMeta(item), item.content);
  } finally {
    // the parser waits for this before reading on; released on failure too so it can be torn down
    item.release?.();
  }
}

function attachmentMeta(item: AttachmentStream): PartMeta {
  const meta: PartMeta = {
    type: declaredType(item),
    role: item.related ? 'related' : 'attachment',
    disposition: item.related || item.contentDisposition === 'inline' ? 'inline' : 'attachment',
  };
  const filename = safeFilename(item.filename);
  return filename ? { ...meta, filename } : meta;
}

/** The type as the sender declared it (mailparser guesses one from the file name), with its charset. */
function declaredType(item: AttachmentStream): string {
  const header = item.headers.get('content-type') as StructuredHeader | undefined;
  const type = (header?.value ?? item.contentType).trim().toLowerCase();
  if (!MEDIA_TYPE.test(type) || type.length > 200) return 'application/octet-stream';
  const charset = header?.params.charset;
  return charset && /^[\w.:-]{1,40}$/.test(charset) ? `${type}; charset=${charset}` : type;
}

/** A bare file name the manifest accepts: last path segment, no controls, ≤ 255 UTF-16 units. */
function safeFilename(name: string | undefined): string | undefined {
  const base = (name ?? '')
    .split(/[/\\]/)
    .pop()!
    .replace(/[\u0000-\u001f\u007f]/g, '')
    .trim();
  let cut = '';
  for (const ch of base) {
    if (cut.length + ch.length > 255) break;
    cut += ch;
  }
  return cut && cut !== '.' && cut !== '..' ? cut : undefined;
}

/**
 * mailparser's text (every text/plain part, joined) is the body; its HTML is the alternative, or
 * the body when there is no text. Both are UTF-8 with CRLF line ends, as text/* is on the wire.
 */
function textParts(text: MessageText | undefined): Array<[PartMeta, Buffer]> {
  const out: Array<[PartMeta, Buffer]> = [];
  const utf8 = (s: string) => Buffer.from(s.replace(/\r\n|\r|\n/g, '\r\n'), 'utf8');
  if (text?.text) out.push([{ type: 'text/plain; charset=utf-8', role: 'body' }, utf8(text.text)]);
  if (text?.html)
    out.push([{ type: 'text/html; charset=utf-8', role: out.length > 0 ? 'alternative' : 'body' }, utf8(text.html)]);
  return out;
}

async function* oneChunk(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}
