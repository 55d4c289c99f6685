// Line length and header-section size limits on CRLF-clean message bytes (after hygiene).
// Streaming and chunk-independent; throws `line_too_long` or `header_too_large`.

import { MailbridgeError } from '../codes.js';

export interface LineLimitSettings {
  /** longest line in bytes, not counting its CRLF */
  readonly maxLineBytes: number;
  /** header section in bytes, its line endings and the blank line included */
  readonly maxHeaderBytes: number;
}

const CR = 0x0d;
const LF = 0x0a;

export class LineLimits {
  private lineBytes = 0;
  private inHeader = true;
  private headerBytes = 0;

  constructor(private readonly limits: LineLimitSettings) {}

  get headerEnded(): boolean {
    return !this.inHeader;
  }

  push(chunk: Buffer): void {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (this.inHeader && ++this.headerBytes > this.limits.maxHeaderBytes) {
        throw new MailbridgeError('header_too_large', `Header section exceeds ${this.limits.maxHeaderBytes} bytes`);
      }
      if (b === LF) {
        // an empty line (just CRLF) ends the header section
        if (this.lineBytes === 0) this.inHeader = false;
        this.lineBytes = 0;
      } else if (b !== CR && ++this.lineBytes > this.limits.maxLineBytes) {
        throw new MailbridgeError('line_too_long', `Line longer than ${this.limits.maxLineBytes} bytes`);
      }
    }
  }
}
