// Wire framing of a message for pull: magic, a head frame (canonical {manifest, signatures}), one
// frame per carried part, an end frame. Lengths are declared up front so a reader can stream part by
// part, verifying each part's digest as it completes, with no boundary scanning; 8-bit clean.

import { createHash, type Hash } from 'node:crypto';
import { z } from 'zod';
import type { StatusCode } from '../../codes.js';
import { sha256Base64Url } from './bytes.js';
import { canonicalBytes, parseCanonicalJson } from './canonical-json.js';
import { type Manifest, parseManifest } from './message-format.js';
import { type MessageSignature, messageSignatureSchema } from './message-signature.js';
import { partsForView, type StreamView } from './message-views.js';
import { describeIssue, ProtocolError } from './protocol-error.js';

export const STREAM_MAGIC = Buffer.from('PMTP/1\n', 'ascii');
export const PART_TRAILER = Buffer.from('\n', 'ascii');
export const STREAM_END = Buffer.from('E\n', 'ascii');
export const DEFAULT_MAX_HEAD_BYTES = 1 << 20;
const MAX_LINE = 40;
const LF = 0x0a;

const headSchema = z.looseObject({
  manifest: z.unknown(),
  signatures: z.array(messageSignatureSchema).min(1).max(100),
});
export interface MessageHead {
  manifest: Manifest;
  signatures: MessageSignature[];
}

/** Magic plus the head frame: `H <length>\n<canonical head JSON>\n`. */
export function streamPrefix(head: MessageHead): Buffer {
  const json = canonicalBytes(head);
  return Buffer.concat([STREAM_MAGIC, Buffer.from(`H ${json.length}\n`, 'ascii'), json, PART_TRAILER]);
}

/** `P <index> <length>\n`; the part's octets and PART_TRAILER follow. */
export function partFrameHeader(index: number, length: number): Buffer {
  return Buffer.from(`P ${index} ${length}\n`, 'ascii');
}

/** A whole stream in memory (servers stream the same frames from disk). Parts in ascending order. */
export function encodeMessageStream(
  head: MessageHead,
  parts: ReadonlyArray<{ index: number; data: Uint8Array }>,
): Buffer {
  const chunks = [streamPrefix(head)];
  let last = -1;
  for (const { index, data } of parts) {
    const declared = head.manifest.parts[index];
    if (!declared || index <= last || declared.length !== data.length) {
      throw new ProtocolError('input_invalid', `part ${index} is out of order or does not match its manifest entry`);
    }
    chunks.push(partFrameHeader(index, data.length), Buffer.from(data), PART_TRAILER);
    last = index;
  }
  chunks.push(STREAM_END);
  return Buffer.concat(chunks);
}

export type FramingErrorCode = Extract<
  StatusCode,
  'frame_malformed' | 'head_invalid' | 'manifest_digest_mismatch' | 'part_digest_mismatch' | 'truncated'
>;

export type StreamEvent =
  | { type: 'head'; head: MessageHead; manifestDigest: string }
  | { type: 'part-start'; index: number; length: number }
  | { type: 'part-data'; index: number; data: Buffer }
  | { type: 'part-end'; index: number }
  | { type: 'end'; parts: number[] }
  | { type: 'error'; code: FramingErrorCode; detail: string };

export interface StreamReaderOptions {
  /** The digest the notice announced; any other manifest is refused before any part is read. */
  expectedDigest?: string;
  /** When set, exactly the parts of this view must arrive. */
  view?: StreamView;
  maxHeadBytes?: number;
}

type State = 'magic' | 'line' | 'head' | 'part' | 'trailer' | 'done' | 'failed';

/**
 * Incremental reader: push chunks split anywhere, get events. Part data is passed through as it
 * arrives; part-end is emitted only after the part's SHA-256 matched. After an error event the
 * reader ignores further input. Call finish() at end of input to detect truncation.
 */
export class MessageStreamReader {
  private state: State = 'magic';
  private buffered: Buffer[] = [];
  private bufferedLength = 0;
  private need = STREAM_MAGIC.length;
  private manifest: Manifest | undefined;
  private required: Set<number> | undefined;
  private current: { index: number; hash: Hash; sha256: string } | undefined;
  private readonly received: number[] = [];

  constructor(private readonly options: StreamReaderOptions = {}) {}

  push(chunk: Uint8Array): StreamEvent[] {
    const events: StreamEvent[] = [];
    const data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let pos = 0;
    while (pos < data.length && this.state !== 'failed') {
      if (this.state === 'done') {
        this.fail(events, 'frame_malformed', 'data after the end frame');
      } else if (this.state === 'part' && this.current) {
        const n = Math.min(this.need, data.length - pos);
        const slice = data.subarray(pos, pos + n);
        this.current.hash.update(slice);
        events.push({ type: 'part-data', index: this.current.index, data: slice });
        pos += n;
        this.need -= n;
        if (this.need === 0) this.state = 'trailer';
      } else if (this.state === 'trailer') {
        if (data[pos++] !== LF) this.fail(events, 'frame_malformed', 'frame not followed by LF');
        else this.endFrame(events);
      } else if (this.state === 'line') {
        const lf = data.indexOf(LF, pos);
        const end = lf < 0 ? data.length : lf;
        this.collect(data.subarray(pos, end));
        pos = lf < 0 ? end : lf + 1;
        if (this.bufferedLength > MAX_LINE) this.fail(events, 'frame_malformed', 'frame header line too long');
        else if (lf >= 0) this.onLine(this.takeBuffered().toString('latin1'), events);
      } else {
        const n = Math.min(this.need - this.bufferedLength, data.length - pos);
        this.collect(data.subarray(pos, pos + n));
        pos += n;
        if (this.bufferedLength === this.need) this.onFixed(this.takeBuffered(), events);
      }
    }
    return events;
  }

  finish(): StreamEvent[] {
    if (this.state === 'done' || this.state === 'failed') return [];
    const events: StreamEvent[] = [];
    this.fail(events, 'truncated', `input ended in state ${this.state}`);
    return events;
  }

  private collect(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.buffered.push(Buffer.from(bytes));
    this.bufferedLength += bytes.length;
  }

  private takeBuffered(): Buffer {
    const all = Buffer.concat(this.buffered, this.bufferedLength);
    this.buffered = [];
    this.bufferedLength = 0;
    return all;
  }

  private fail(events: StreamEvent[], code: FramingErrorCode, detail: string): void {
    this.state = 'failed';
    events.push({ type: 'error', code, detail });
  }

  /** Magic or head bytes, once `need` of them have arrived. */
  private onFixed(bytes: Buffer, events: StreamEvent[]): void {
    if (this.state === 'magic') {
      if (!bytes.equals(STREAM_MAGIC)) return this.fail(events, 'frame_malformed', 'not a PMTP/1 message stream');
      this.state = 'line';
      return;
    }
    let json: unknown;
    try {
      json = parseCanonicalJson(bytes);
    } catch {
      return this.fail(events, 'head_invalid', 'head is not canonical JSON');
    }
    const parsed = headSchema.safeParse(json);
    if (!parsed.success) return this.fail(events, 'head_invalid', describeIssue(parsed.error));
    const manifest = parseManifest(parsed.data.manifest);
    if (!manifest.ok) return this.fail(events, 'head_invalid', manifest.detail);
    const head: MessageHead = { manifest: manifest.value, signatures: parsed.data.signatures };
    const manifestDigest = sha256Base64Url(canonicalBytes(head.manifest));
    const expected = this.options.expectedDigest;
    if (expected !== undefined && expected !== manifestDigest) {
      return this.fail(events, 'manifest_digest_mismatch', 'manifest is not the one announced');
    }
    this.manifest = head.manifest;
    if (this.options.view) this.required = new Set(partsForView(head.manifest, this.options.view));
    events.push({ type: 'head', head, manifestDigest });
    this.state = 'trailer';
  }

  private onLine(line: string, events: StreamEvent[]): void {
    const manifest = this.manifest;
    if (!manifest) {
      const match = /^H ([1-9]\d{0,15})$/.exec(line);
      const length = Number(match?.[1]);
      if (!match || length > (this.options.maxHeadBytes ?? DEFAULT_MAX_HEAD_BYTES)) {
        return this.fail(events, 'frame_malformed', 'expected a head frame within the size limit');
      }
      this.need = length;
      this.state = 'head';
      return;
    }
    if (line === 'E') return this.onEnd(events);
    const match = /^P (0|[1-9]\d{0,5}) (0|[1-9]\d{0,15})$/.exec(line);
    const index = Number(match?.[1]);
    const length = Number(match?.[2]);
    const declared = manifest.parts[index];
    const last = this.received.at(-1) ?? -1;
    if (
      !match ||
      !declared ||
      index <= last ||
      declared.length !== length ||
      (this.required && !this.required.has(index))
    ) {
      return this.fail(events, 'frame_malformed', `unexpected part frame "${line}"`);
    }
    this.current = { index, hash: createHash('sha256'), sha256: declared.sha256 };
    this.need = length;
    this.state = length === 0 ? 'trailer' : 'part';
    events.push({ type: 'part-start', index, length });
  }

  /** LF after the head or a part: for a part, its digest is checked here. */
  private endFrame(events: StreamEvent[]): void {
    const part = this.current;
    this.current = undefined;
    this.state = 'line';
    if (!part) return;
    if (part.hash.digest('base64url') !== part.sha256) {
      return this.fail(events, 'part_digest_mismatch', `part ${part.index} does not match its digest`);
    }
    this.received.push(part.index);
    events.push({ type: 'part-end', index: part.index });
  }

  private onEnd(events: StreamEvent[]): void {
    const missing = [...(this.required ?? [])].filter((i) => !this.received.includes(i));
    if (missing.length > 0) return this.fail(events, 'frame_malformed', `parts missing: ${missing.join(',')}`);
    this.state = 'done';
    events.push({ type: 'end', parts: [...this.received] });
  }
}
