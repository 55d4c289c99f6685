// Where complete spool entries live: the seam between the spool's entry format (spool.ts) and a
// storage backend (a local folder, or an S3 bucket). Stores move opaque bytes; they know no footer or record.

import type { FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';

/** The fsync points, named so crash tests can stop a writer between any two of them (the last three: folder store only). */
export type SpoolStep = 'body-written' | 'meta-written' | 'file-synced' | 'renamed' | 'dir-synced';

export interface BodyStore {
  /** How much of an entry's end a read fetches first: enough for footer and meta at the store's cheapest. */
  readonly tailBytes: number;
  /** Creates what the store needs (folder, nothing for a bucket). */
  init(): Promise<void>;
  /**
   * Makes the finished draft at `tmpPath` (open as `file`, all bytes written) the entry `queueId`.
   * Resolves only once the entry is durable and listed; the draft file is consumed (moved or deleted).
   */
  place(tmpPath: string, file: FileHandle, queueId: string, step: (step: SpoolStep) => Promise<void>): Promise<void>;
  has(queueId: string): Promise<boolean>;
  /** The names stored, unfiltered and unsorted. */
  list(): Promise<string[]>;
  /** The last `length` bytes (fewer if the entry is shorter) and the entry's whole size; ENOENT if it is missing. */
  tail(queueId: string, length: number): Promise<{ bytes: Buffer; size: number }>;
  /** Bytes `start`..`end` inclusive, streamed; the caller keeps the range inside the entry. */
  range(queueId: string, start: number, end: number): Promise<Readable>;
  /** Idempotent: a missing entry is not an error. */
  remove(queueId: string): Promise<void>;
  /** Where an entry lives, for operators: a file path or an s3:// address. */
  locate(queueId: string): string;
  /** Housekeeping after a crash: drops interrupted uploads begun before `cutoffMs` (epoch ms). */
  sweep(cutoffMs: number): Promise<void>;
}

/** The error a missing entry raises, whatever the backend: callers test `code === 'ENOENT'`. */
export function missingEntry(queueId: string, cause?: unknown): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`spool entry ${queueId} does not exist`, { cause });
  err.code = 'ENOENT';
  return err;
}
