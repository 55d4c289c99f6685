// header-filter: drops chosen fields from an RFC 5322 message's header section while the bytes
// stream past (forged Authentication-Results, PMTP-Token). Every other byte, folding and line
// ends included, passes unchanged; the body is never looked at. Pure.
import { MAX_HEADER_SECTION } from './header-section.js';
import { asBuffer } from './octets.js';
import { TranslateError } from './translate-error.js';

/** `name` as written; `value` unfolded and trimmed, octets read as latin1. True drops the field. */
export type FieldTest = (name: string, value: string) => boolean;

export async function* withoutFields(source: AsyncIterable<Uint8Array>, drop: FieldTest): AsyncGenerator<Buffer> {
  const iterator = source[Symbol.asyncIterator]();
  try {
    yield* filtered(iterator, drop);
  } finally {
    // a consumer that stops early (or an error) must still close the source, e.g. a spool file
    await iterator.return?.();
  }
}

async function* filtered(iterator: AsyncIterator<Uint8Array>, drop: FieldTest): AsyncGenerator<Buffer> {
  /** bytes of the header section not yet split into lines */
  let pending: Buffer = Buffer.alloc(0);
  /** the lines of the field being read: it is judged once the next line shows it complete */
  let field: Buffer[] = [];
  let seen = 0;
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
    const bytes = asBuffer(next.value);
    seen += bytes.length;
    pending = pending.length > 0 ? Buffer.concat([pending, bytes]) : bytes;
    const out: Buffer[] = [];
    let start = 0;
    let body: Buffer | undefined;
    for (let lf = pending.indexOf(0x0a, start); lf >= 0; lf = pending.indexOf(0x0a, start)) {
      const line = pending.subarray(start, lf + 1);
      start = lf + 1;
      if (isContinuation(line) && field.length > 0) {
        field.push(line);
        continue;
      }
      out.push(...judged(field, drop));
      field = [];
      if (isEmptyLine(line)) {
        body = pending.subarray(start);
        out.push(line, body);
        break;
      }
      field.push(line);
    }
    if (out.length > 0) yield Buffer.concat(out);
    if (body) {
      // the header section is over: the rest passes as it comes
      for (let rest = await iterator.next(); !rest.done; rest = await iterator.next()) yield asBuffer(rest.value);
      return;
    }
    if (seen > MAX_HEADER_SECTION)
      throw new TranslateError('header_too_large', `header section exceeds ${MAX_HEADER_SECTION} bytes`);
    // a copy of the unfinished line: a caller may reuse its buffers; a field's lines are copied too
    field = field.map((l) => Buffer.from(l));
    pending = Buffer.from(pending.subarray(start));
  }
  // the message ended inside its header section (no body): the last line may lack its newline
  if (pending.length > 0) {
    if (isContinuation(pending) && field.length > 0) field.push(pending);
    else {
      const last = judged(field, drop);
      field = [pending];
      if (last.length > 0) yield Buffer.concat(last);
    }
  }
  const last = judged(field, drop);
  if (last.length > 0) yield Buffer.concat(last);
}

/** The field's lines, or none when `drop` says so; lines that are no field (an mbox "From ") stay. */
function judged(lines: readonly Buffer[], drop: FieldTest): readonly Buffer[] {
  if (lines.length === 0) return lines;
  const raw = Buffer.concat(lines).toString('latin1');
  const colon = raw.indexOf(':');
  const name = colon > 0 ? raw.slice(0, colon).replace(/[ \t]+$/, '') : '';
  if (!/^[!-9;-~]+$/.test(name)) return lines;
  const value = raw
    .slice(colon + 1)
    .replace(/\r?\n/g, '')
    .trim();
  return drop(name, value) ? [] : lines;
}

function isContinuation(line: Buffer): boolean {
  return line[0] === 0x20 || line[0] === 0x09;
}

function isEmptyLine(line: Buffer): boolean {
  return (line.length === 1 && line[0] === 0x0a) || (line.length === 2 && line[0] === 0x0d && line[1] === 0x0a);
}
