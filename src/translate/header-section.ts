// header-section: finds the header section of RFC 5322 bytes as they stream past, and splits it into
// fields (name, unfolded value) in order. Pure; the bytes themselves are never changed here, so the
// original part keeps every octet while the manifest gets readable fields.
import { headerText } from './encoded-words.js';
import { TranslateError } from './errors.js';

/** Same bound as mailparser's maxHeadSize: a larger section is refused, not truncated. */
export const MAX_HEADER_SECTION = 1 << 20;

export interface RawField {
  /** as written, case kept */
  name: string;
  /** unfolded (RFC 5322 §2.2.3), leading and trailing whitespace trimmed, octets decoded by `headerText` */
  value: string;
}

const FIELD_NAME = /^[!-9;-~]{1,128}$/;

/** Collects bytes until the empty line that ends the header section; the body is not kept. */
export class HeaderSectionCollector {
  private head: Buffer = Buffer.alloc(0);
  private done = false;

  push(chunk: Buffer): void {
    if (this.done) return;
    // rescan from a little before the new chunk: the separator may straddle chunks
    const from = Math.max(0, this.head.length - 3);
    const all = this.head.length === 0 ? chunk : Buffer.concat([this.head, chunk]);
    const end = sectionEnd(all, from);
    if (end >= 0) {
      // a copy: a view would pin the whole chunk, possibly most of a large message
      this.head = Buffer.from(all.subarray(0, end));
      this.done = true;
    } else if (all.length > MAX_HEADER_SECTION) {
      throw new TranslateError('header_too_large', `header section exceeds ${MAX_HEADER_SECTION} bytes`);
    } else {
      this.head = all;
    }
  }

  /** The header section without the separating empty line (all bytes if the message has no body). */
  section(): Buffer {
    return this.head;
  }
}

/** Offset of the empty line's start (the header section's end), or -1. Also accepts LF-only input. */
function sectionEnd(bytes: Buffer, from: number): number {
  if (from === 0 && (bytes[0] === 0x0a || (bytes[0] === 0x0d && bytes[1] === 0x0a))) return 0;
  const match = /\r?\n\r?\n/.exec(bytes.toString('latin1', from, Math.min(bytes.length, MAX_HEADER_SECTION + 4)));
  return match ? from + match.index : -1;
}

/** Splits a header section into fields. Lines that are not fields (an mbox "From " line) are skipped. */
export function parseHeaderSection(section: Buffer): RawField[] {
  const fields: RawField[] = [];
  let current: { name: string; raw: string } | undefined;
  const flush = () => {
    if (current) fields.push({ name: current.name, value: fieldValue(current.raw) });
    current = undefined;
  };
  for (const line of section.toString('latin1').split(/\r?\n/)) {
    if (/^[ \t]/.test(line)) {
      if (current) current.raw += line;
      continue;
    }
    flush();
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).replace(/[ \t]+$/, '') : '';
    if (FIELD_NAME.test(name)) current = { name, raw: line.slice(colon + 1) };
  }
  flush();
  return fields;
}

/** Decodes the unfolded octets; a stray CR or a NUL cannot ride in a manifest value, so they are replaced. */
function fieldValue(latin1: string): string {
  return headerText(Buffer.from(latin1, 'latin1'))
    .replace(/[\r\n]/g, ' ')
    .replace(/\0/g, '\uFFFD')
    .replace(/^[ \t]+|[ \t]+$/g, '');
}
