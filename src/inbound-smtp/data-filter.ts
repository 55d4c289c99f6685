// The Transform every DATA byte passes through on its way to the spool: newline hygiene first,
// then line and header limits on the cleaned bytes. Its output is what gets stored, checked
// (SPF/DKIM/DMARC read the spooled file) and later relayed.

import { Transform, type TransformCallback } from 'node:stream';
import { type LineLimitSettings, LineLimits } from './line-limits.js';
import { BareNewlineError, type BareNewlinePolicy, NewlineHygiene } from './newline-hygiene.js';

export interface DataFilterSettings extends LineLimitSettings {
  readonly bareNewlines: BareNewlinePolicy;
}

export class MessageDataFilter extends Transform {
  private readonly hygiene: NewlineHygiene;
  private readonly limits: LineLimits;

  constructor(settings: DataFilterSettings) {
    super();
    this.hygiene = new NewlineHygiene(settings.bareNewlines);
    this.limits = new LineLimits(settings);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      const clean = this.hygiene.push(chunk);
      this.limits.push(clean);
      callback(null, clean);
    } catch (err) {
      callback(this.earliest(err));
    }
  }

  /**
   * The violation first in byte order, whatever the chunking: a bare newline found in a chunk
   * loses to a line or header limit that the clean bytes before it already broke.
   */
  private earliest(err: unknown): Error {
    if (err instanceof BareNewlineError) {
      try {
        this.limits.push(err.cleanPrefix);
      } catch (limitErr) {
        return limitErr as Error;
      }
    }
    return err as Error;
  }

  override _flush(callback: TransformCallback): void {
    try {
      const tail = this.hygiene.end();
      this.limits.push(tail);
      callback(null, tail.length > 0 ? tail : undefined);
    } catch (err) {
      callback(err as Error);
    }
  }
}
