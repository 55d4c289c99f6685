// Raw DATA hygiene, run before any other check: a bare CR or bare LF is refused (550 5.5.2),
// or every line ending becomes CRLF. Byte-at-a-time state, so chunk boundaries never matter
// (smuggling defence: CVE-2023-51764, and mailauth splitting headers on LF only).

import { MailbridgeError } from '../codes.js';

export type BareNewlinePolicy = 'reject' | 'normalise';

const CR = 0x0d;
const LF = 0x0a;
const crlf = Buffer.from('\r\n');

/** `bare_newline`, with the bytes of the chunk that came before the offence (they were clean). */
export class BareNewlineError extends MailbridgeError {
  constructor(
    offset: number,
    readonly cleanPrefix: Buffer,
  ) {
    super('bare_newline', undefined, { cause: new Error(`bare CR or LF at byte ${offset}`) });
  }
}

export class NewlineHygiene {
  private afterCr = false;
  private bytesSeen = 0;

  constructor(private readonly policy: BareNewlinePolicy) {}

  /** Returns the bytes to pass on; in `reject` mode throws `bare_newline` at the first offence. */
  push(chunk: Buffer): Buffer {
    return this.policy === 'reject' ? this.check(chunk) : this.normalise(chunk);
  }

  /** Call once after the last chunk. */
  end(): Buffer {
    if (this.afterCr && this.policy === 'reject') throw new BareNewlineError(this.bytesSeen - 1, Buffer.alloc(0));
    return Buffer.alloc(0);
  }

  private check(chunk: Buffer): Buffer {
    let afterCr = this.afterCr;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      // the offence starts at the CR before `b`, or at `b` itself
      if (afterCr && b !== LF)
        throw new BareNewlineError(this.bytesSeen + i - 1, chunk.subarray(0, Math.max(0, i - 1)));
      if (!afterCr && b === LF) throw new BareNewlineError(this.bytesSeen + i, chunk.subarray(0, i));
      afterCr = b === CR;
    }
    this.afterCr = afterCr;
    this.bytesSeen += chunk.length;
    return chunk;
  }

  /** CR emits CRLF; an LF right after a CR emits nothing more; a lone LF emits CRLF. */
  private normalise(chunk: Buffer): Buffer {
    const parts: Buffer[] = [];
    let runStart = 0;
    let afterCr = this.afterCr;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (b !== CR && b !== LF) {
        afterCr = false;
        continue;
      }
      if (i > runStart) parts.push(chunk.subarray(runStart, i));
      runStart = i + 1;
      if (b === CR || !afterCr) parts.push(crlf);
      afterCr = b === CR;
    }
    if (runStart < chunk.length) parts.push(chunk.subarray(runStart));
    this.afterCr = afterCr;
    this.bytesSeen += chunk.length;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }
}
