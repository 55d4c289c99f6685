// header-section: finds the header section of RFC 5322 bytes as they stream past, and splits it into
// fields (name, unfolded value) in order. Pure; the bytes themselves are never changed here, so the
// original part keeps every octet while the manifest gets readable fields.
import type { Readable } from 'node:stream';
import { headerText } from './encoded-words.js';
import { TranslateError } from './translate-error.js';

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
  private chunks: Buffer[] = [];
  private size = 0;
  /** the last bytes pushed: the separator may straddle chunks */
  private carry: Buffer = Buffer.alloc(0);
  private head: Buffer | undefined;

  push(chunk: Buffer): void {
    if (this.head) return;
    const window = Buffer.concat([this.carry, chunk.subarray(0, MAX_HEADER_SECTION + 4)]);
    const windowStart = this.size - this.carry.length;
    const at = sectionEnd(window, windowStart === 0);
    if (at >= 0) {
      const end = windowStart + at;
      this.head = Buffer.concat([...this.chunks, chunk.subarray(0, Math.max(0, end - this.size))]).subarray(0, end);
      this.chunks = [];
      return;
    }
    this.size += chunk.length;
    if (this.size > MAX_HEADER_SECTION) {
      throw new TranslateError('header_too_large', `header section exceeds ${MAX_HEADER_SECTION} bytes`);
    }
    // a copy: a caller may reuse its buffers
    this.chunks.push(Buffer.from(chunk));
    this.carry = Buffer.from(window.subarray(Math.max(0, window.length - 3)));
  }

  /** True once the empty line ending the header section has been seen. */
  get complete(): boolean {
    return this.head !== undefined;
  }

  /** The header section without the separating empty line (all bytes if the message has no body). */
  section(): Buffer {
    return this.head ?? Buffer.concat(this.chunks, this.size);
  }
}

/** Offset in `window` where the empty line ending the header section starts, or -1. Also accepts LF-only input. */
function sectionEnd(window: Buffer, atMessageStart: boolean): number {
  if (atMessageStart && (window[0] === 0x0a || (window[0] === 0x0d && window[1] === 0x0a))) return 0;
  const match = /\r?\n\r?\n/.exec(window.toString('latin1'));
  return match ? match.index : -1;
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

/**
 * Reads a stream's header section up to and including the empty line, at most `limit` bytes of
 * it (for DSNs and sender checks); a cut-off section ends on a whole line. Closes the stream.
 */
export async function readHeaderSection(body: Readable, limit = 64 * 1024): Promise<string> {
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
