// mime-body: the MIME structure and bodies of a PMTP message, composed with nodemailer's MailComposer
// from the content parts, streamed and digest-checked part by part. Only the root's MIME fields
// (MIME-Version, Content-*) are kept from the composer; the message header comes from the manifest.
import { Readable } from 'node:stream';
import type { MailComposerAlternative, MailComposerAttachment } from 'nodemailer/lib/mail-composer';
import MailComposer from 'nodemailer/lib/mail-composer';
import { type Manifest, manifestDigest, mediaTypeOf, type Part } from '../native/protocol/message-format.js';
import { crlfLines, verified } from './octets.js';

/** Opens part `index`'s octets; called lazily, when the composer reaches the part. */
export type PartReader = (index: number) => AsyncIterable<Uint8Array>;

function content(read: PartReader, index: number, part: Part, text: boolean): Readable {
  async function* octets(): AsyncGenerator<Buffer> {
    const checked = verified(read(index), part, 'part_mismatch');
    yield* text ? crlfLines(checked) : checked;
  }
  return Readable.from(octets(), { objectMode: false });
}

/** The composer's mail options: text/* bodies as alternatives (plain first), everything else attached. */
function contents(manifest: Manifest, read: PartReader) {
  const alternatives: MailComposerAlternative[] = [];
  const attachments: MailComposerAttachment[] = [];
  // one alternative per text type; any further body part goes along as an inline attachment
  const textTypes = new Set<string>();
  manifest.parts.forEach((part, index) => {
    if (part.role === 'original-rfc5322') return;
    const type = mediaTypeOf(part);
    if ((part.role === 'body' || part.role === 'alternative') && type.startsWith('text/') && !textTypes.has(type)) {
      textTypes.add(type);
      alternatives.push({ contentType: part.type, content: content(read, index, part, true) });
      return;
    }
    attachments.push({
      contentType: part.type,
      content: content(read, index, part, false),
      filename: part.filename ?? false,
      contentDisposition: part.disposition ?? (part.role === 'attachment' ? 'attachment' : 'inline'),
      // base64 for every attachment, message/* included: no 8-bit, no bare newlines, no "." lines
      contentTransferEncoding: 'base64',
    });
  });
  alternatives.sort(
    (a, b) => Number(!a.contentType?.startsWith('text/plain')) - Number(!b.contentType?.startsWith('text/plain')),
  );
  return { alternatives, attachments };
}

/** The root's MIME fields, each kept whole with its folding. */
function mimeFields(section: string): string {
  return section
    .split(/\r\n(?![ \t])/)
    .filter((f) => /^(mime-version|content-[\w-]+)\s*:/i.test(f))
    .map((f) => `${f}\r\n`)
    .join('');
}

/** MIME-Version, Content-* fields, the empty line, then the bodies. */
export async function* mimeBody(
  manifest: Manifest,
  read: PartReader,
  date: Date,
  messageId: string,
): AsyncGenerator<Buffer> {
  const composer = new MailComposer({
    ...contents(manifest, read),
    // boundaries no sender can predict, yet the same output every time: the digest covers every part's
    // hash, so text cannot contain the boundary derived from it
    baseBoundary: manifestDigest(manifest),
    // given so the composer neither reads the clock nor draws a random id; its copies are dropped
    date,
    messageId,
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  let head = Buffer.alloc(0);
  let passing = false;
  for await (const chunk of composer.compile().createReadStream() as AsyncIterable<Buffer>) {
    if (passing) {
      yield chunk;
      continue;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) continue;
    passing = true;
    yield Buffer.from(mimeFields(head.toString('latin1', 0, end)), 'latin1');
    yield head.subarray(end + 2);
  }
}
