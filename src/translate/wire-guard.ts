// wire-guard: the last stage of every RFC 5322 output. Checks, while streaming, that the bytes are
// safe for the next SMTP hop: no bare CR or LF, no line holding only "." (which ends DATA on a hop
// that skips dot-stuffing), UTF-8 in headers only with SMTPUTF8, 8-bit body octets only with 8BITMIME.
import { isAscii } from 'node:buffer';
import { TranslateError } from './translate-error.js';

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

export interface WireRules {
  readonly smtputf8: boolean;
  readonly eightBitMime: boolean;
  /**
   * `reject` for bytes that must stay unchanged (an original message); `escape` rewrites a lone
   * "." line as "=2E", which is right only where such a line can be quoted-printable text,
   * as in composed output where every other body is base64.
   */
  readonly dotLines: 'reject' | 'escape';
}

export async function* wireGuard(source: AsyncIterable<Buffer>, rules: WireRules): AsyncGenerator<Buffer> {
  // held back: a trailing CR (its LF may come next) or a short line start that may become "."
  let held = Buffer.alloc(0);
  let heldStartsLine = true;
  let inHeader = true;
  const escapes: number[] = [];

  const scan = (buf: Buffer): number => {
    escapes.length = 0;
    for (let j = buf.indexOf(CR); j >= 0 && j < buf.length - 1; j = buf.indexOf(CR, j + 1)) {
      if (buf[j + 1] !== LF) throw new TranslateError('bare_newline', 'bare CR in output');
    }
    let lineStart = heldStartsLine ? 0 : -1;
    let headerEnd = -1;
    for (let i = buf.indexOf(LF); i >= 0; i = buf.indexOf(LF, i + 1)) {
      if (i === 0 || buf[i - 1] !== CR) throw new TranslateError('bare_newline', 'bare LF in output');
      if (lineStart >= 0 && i - lineStart === 2 && buf[lineStart] === DOT) {
        if (rules.dotLines === 'reject') throw new TranslateError('dot_line', 'a line holding only "." in output');
        escapes.push(lineStart);
      }
      if (inHeader && headerEnd < 0 && lineStart >= 0 && i - lineStart === 1) headerEnd = i + 1;
      lineStart = i + 1;
    }
    // release everything but a possible "." line start (≤ 2 bytes after the last LF) or a trailing CR
    const tail =
      lineStart >= 0 && buf.length - lineStart <= 2
        ? lineStart
        : buf[buf.length - 1] === CR
          ? buf.length - 1
          : buf.length;
    checkEightBit(buf, tail, headerEnd);
    if (headerEnd >= 0) inHeader = false;
    heldStartsLine = tail === lineStart;
    return tail;
  };

  const checkEightBit = (buf: Buffer, end: number, headerEnd: number) => {
    const split = inHeader ? (headerEnd >= 0 ? Math.min(headerEnd, end) : end) : 0;
    if (!rules.smtputf8 && !isAscii(buf.subarray(0, split))) {
      throw new TranslateError('smtputf8_required', 'UTF-8 in headers needs SMTPUTF8');
    }
    if (!rules.eightBitMime && !rules.smtputf8 && !isAscii(buf.subarray(split, end))) {
      throw new TranslateError('eightbit_required', '8-bit body octets need 8BITMIME');
    }
  };

  for await (const chunk of source) {
    if (chunk.length === 0) continue;
    const buf = held.length > 0 ? Buffer.concat([held, chunk]) : chunk;
    const tail = scan(buf);
    held = Buffer.from(buf.subarray(tail));
    if (tail > 0) yield escapes.length > 0 ? escaped(buf.subarray(0, tail), escapes) : buf.subarray(0, tail);
  }
  if (held.length > 0) {
    if (held[held.length - 1] === CR) throw new TranslateError('bare_newline', 'output ends in a bare CR');
    if (heldStartsLine && held.length === 1 && held[0] === DOT)
      throw new TranslateError('dot_line', 'output ends with a "." line');
    yield held;
  }
}

/** Replaces the "." at each offset with "=2E" (the same octet in quoted-printable). */
function escaped(buf: Buffer, offsets: readonly number[]): Buffer {
  const pieces: Buffer[] = [];
  let from = 0;
  for (const at of offsets) {
    pieces.push(buf.subarray(from, at), Buffer.from('=2E', 'latin1'));
    from = at + 1;
  }
  pieces.push(buf.subarray(from));
  return Buffer.concat(pieces);
}
