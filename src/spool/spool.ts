// The durable spool: message bytes written so that a listed entry is always whole. Drafts are local
// files in `tmp/<instance>/` (checks read them); a commit hands the finished draft to the body store
// (body-store.ts: a folder by default, or S3); read = a stream, never a buffer.
//
// An entry is `<message bytes><meta JSON><footer>`; the fixed-size footer names the meta length,
// so the body streams from offset 0 and the meta (envelope, verdicts) is added after checks ran.

import { type FileHandle, mkdir, open, readdir, rm, rmdir, stat, statfs } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { parseSpoolRecord, type SpoolRecord, type SpoolRecordInput } from '../mail/spool-records.js';
import type { BodyStore, SpoolStep } from './body-store.js';
import { FolderBodyStore } from './folder-body-store.js';
import { isQueueId, newQueueId } from './queue-id.js';

export type { SpoolStep } from './body-store.js';

const footerMagic = 'MBSPOOL1';
const footerLength = footerMagic.length + 10 + 1; // magic, 10-digit meta length, newline
/** Another instance's temp file untouched this long is debris: far beyond the slowest DATA or pull. */
const staleTmpMs = 24 * 3600 * 1000;
const sweepEveryMs = 3600 * 1000;
/** how long a removal may wait for a folder fsync: one per interval, however many removals */
const instancePattern = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/** Unique among live processes (one pid per host), and a restarted container (same host, pid 1) finds its own debris. */
function defaultInstance(): string {
  return `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9._-]/g, '_');
}

export interface SpoolEntry {
  readonly queueId: string;
  readonly size: number;
  /** the entry's record (src/mail/spool-records.ts), validated when read */
  readonly meta: SpoolRecord;
}

/** An entry whose record fails validation: never guessed at, left in place for an operator. */
export interface UnreadableEntry {
  readonly queueId: string;
  readonly detail: string;
}

export interface SpoolOptions {
  /** names this process's `tmp/<instance>/`; must differ between processes sharing the folder */
  readonly instance?: string;
  readonly onStep?: (step: SpoolStep, queueId: string) => void | Promise<void>;
  readonly now?: () => number;
  /** where complete entries live; default the folder `<dir>/entries/` */
  readonly store?: BodyStore;
}

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`message exceeds ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

export class Spool {
  readonly dir: string;
  /** this process's own scratch folder, `tmp/<instance>/`: drafts and other temp files */
  readonly tmpDir: string;
  private readonly sharedTmpDir: string;
  private readonly store: BodyStore;
  private readonly options: SpoolOptions;
  private lastSweep = 0;

  constructor(dir: string, options: SpoolOptions = {}) {
    const instance = options.instance ?? defaultInstance();
    if (!instancePattern.test(instance))
      throw new Error(`spool instance must be a plain folder name: ${JSON.stringify(instance)}`);
    this.dir = dir;
    this.sharedTmpDir = path.join(dir, 'tmp');
    this.tmpDir = path.join(this.sharedTmpDir, instance);
    this.store = options.store ?? new FolderBodyStore(path.join(dir, 'entries'));
    this.options = options;
  }

  async init(): Promise<void> {
    await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
    await this.store.init();
  }

  /** Starts an entry in tmp/<instance>/. Nothing is listed until `commit`. */
  async draft(): Promise<SpoolDraft> {
    const nowMs = (this.options.now ?? Date.now)();
    if (nowMs - this.lastSweep >= sweepEveryMs) {
      this.lastSweep = nowMs;
      // housekeeping only: a failed sweep must never refuse mail
      void this.sweepOthers(nowMs).catch(() => undefined);
    }
    const queueId = newQueueId(nowMs);
    return new SpoolDraft(this, queueId, path.join(this.tmpDir, queueId));
  }

  /** Where the entry lives: its file, or its s3:// address. */
  entryPath(queueId: string): string {
    return this.store.locate(checkedId(queueId));
  }

  async has(queueId: string): Promise<boolean> {
    return this.store.has(checkedId(queueId));
  }

  /** Queue ids of the complete entries, oldest first. Read-only (unlike recover), so safe beside a running gateway. */
  async list(): Promise<string[]> {
    return (await this.store.list()).filter(isQueueId).sort();
  }

  async read(queueId: string): Promise<SpoolEntry> {
    const { bytes: tail, size: entrySize } = await this.store.tail(checkedId(queueId), this.store.tailBytes);
    if (entrySize < footerLength) throw new Error(`spool entry ${queueId} is truncated`);
    const text = tail.subarray(tail.length - footerLength).toString('latin1');
    if (!text.startsWith(footerMagic) || !text.endsWith('\n')) throw new Error(`spool entry ${queueId} has no footer`);
    const metaLength = Number(text.slice(footerMagic.length, -1));
    const bodySize = entrySize - footerLength - metaLength;
    if (!Number.isInteger(metaLength) || bodySize < 0) throw new Error(`spool entry ${queueId} has a bad footer`);
    const metaBytes =
      metaLength + footerLength <= tail.length
        ? tail.subarray(tail.length - footerLength - metaLength, tail.length - footerLength)
        : await collect(await this.store.range(queueId, bodySize, bodySize + metaLength - 1));
    const parsed = parseSpoolRecord(JSON.parse(metaBytes.toString('utf8')));
    if (!parsed.ok) throw new Error(`spool entry ${queueId} has an invalid record: ${parsed.detail}`);
    return { queueId, size: bodySize, meta: parsed.record };
  }

  /**
   * The message bytes as a stream; `range` is inclusive like HTTP's. Given the entry a stage has
   * already read (rather than its queue id), its meta is not read again: one open, no more.
   */
  async openBody(
    of: string | SpoolEntry,
    range?: { start: number; end?: number },
  ): Promise<{ stream: Readable; size: number }> {
    const queueId = typeof of === 'string' ? of : of.queueId;
    const size = typeof of === 'string' ? (await this.read(queueId)).size : of.size;
    const start = range?.start ?? 0;
    const end = Math.min(range?.end ?? size - 1, size - 1);
    // an empty range is no request at all (an object store refuses `bytes=0--1`)
    const stream = end < start ? Readable.from([]) : await this.store.range(checkedId(queueId), start, end);
    return { stream, size };
  }

  /** Removes an entry; how soon that is durable is the store's (folder: within a second, shared). */
  async remove(queueId: string): Promise<void> {
    await this.store.remove(checkedId(queueId));
  }

  /**
   * Lists every complete entry, oldest first, and deletes this instance's half-written temp files
   * (other instances' only once stale). Call it before any listener opens, so no live draft of ours is debris.
   */
  async recover(): Promise<{ entries: SpoolEntry[]; unreadable: UnreadableEntry[] }> {
    await this.init();
    for (const name of await readdir(this.tmpDir))
      await rm(path.join(this.tmpDir, name), { recursive: true, force: true });
    const nowMs = (this.options.now ?? Date.now)();
    this.lastSweep = nowMs;
    await this.sweepOthers(nowMs);
    const entries: SpoolEntry[] = [];
    const unreadable: UnreadableEntry[] = [];
    for (const name of await this.list()) {
      try {
        entries.push(await this.read(name));
      } catch (err) {
        // another gateway on this folder may finish and remove an entry while we list
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        unreadable.push({ queueId: name, detail: err instanceof Error ? err.message : String(err) });
      }
    }
    return { entries, unreadable };
  }

  /**
   * Removes other instances' temp files untouched for `staleTmpMs` (a dead instance's debris), and their emptied
   * folders, and the store's interrupted uploads as old.
   */
  private async sweepOthers(nowMs: number): Promise<void> {
    for (const name of await readdir(this.sharedTmpDir)) {
      const file = path.join(this.sharedTmpDir, name);
      if (file !== this.tmpDir) await removeStale(file, nowMs - staleTmpMs);
    }
    await this.store.sweep(nowMs - staleTmpMs);
  }

  async freeBytes(): Promise<number> {
    const s = await statfs(this.dir);
    return s.bavail * s.bsize;
  }

  /** @internal used by SpoolDraft */
  async step(step: SpoolStep, queueId: string): Promise<void> {
    await this.options.onStep?.(step, queueId);
  }

  /** @internal used by SpoolDraft: creates a draft's file */
  async create(tmpPath: string): Promise<FileHandle> {
    try {
      return await open(tmpPath, 'wx', 0o600);
    } catch (err) {
      // another instance may have removed our folder after a day without mail
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
      return open(tmpPath, 'wx', 0o600);
    }
  }

  /** @internal used by SpoolDraft: hands the finished draft (still open as `file`) to the store */
  async place(tmpPath: string, file: FileHandle, queueId: string): Promise<void> {
    await this.store.place(tmpPath, file, queueId, (step) => this.step(step, queueId));
  }
}

/** One entry being written. Write the body, run the checks on `bodyPath`, then commit or discard. */
export class SpoolDraft {
  private size = 0;
  private written = false;
  private done = false;

  constructor(
    private readonly spool: Spool,
    readonly queueId: string,
    readonly bodyPath: string,
  ) {}

  get bodySize(): number {
    return this.size;
  }

  /** Streams the body in, one chunk at a time; refuses (and reads nothing more) past `maxBytes`. */
  async writeBody(source: Readable | AsyncIterable<Buffer>, maxBytes = Number.POSITIVE_INFINITY): Promise<number> {
    const file = await this.spool.create(this.bodyPath);
    this.written = true;
    try {
      // leaving the loop early destroys the source, as a pipeline would
      for await (const chunk of source as AsyncIterable<Buffer>) {
        this.size += chunk.length;
        if (this.size > maxBytes) throw new BodyTooLargeError(maxBytes);
        await writeAll(file, chunk);
      }
    } finally {
      await file.close();
    }
    await this.spool.step('body-written', this.queueId);
    return this.size;
  }

  /** Appends the meta and hands the draft to the store (fsync and rename, or an upload). Returns only when durable. */
  async commit(meta: SpoolRecordInput): Promise<SpoolEntry> {
    if (this.done) throw new Error(`draft ${this.queueId} already finished`);
    const full: SpoolRecord = { ...meta, queueId: this.queueId };
    const metaBytes = Buffer.from(JSON.stringify(full), 'utf8');
    const footer = Buffer.from(`${footerMagic}${String(metaBytes.length).padStart(10, '0')}\n`, 'latin1');
    const file = this.written ? await open(this.bodyPath, 'a') : await this.spool.create(this.bodyPath);
    try {
      await writeAll(file, Buffer.concat([metaBytes, footer]));
      await this.spool.step('meta-written', this.queueId);
      await this.spool.place(this.bodyPath, file, this.queueId);
    } finally {
      await file.close();
    }
    this.done = true;
    return { queueId: this.queueId, size: this.size, meta: full };
  }

  async discard(): Promise<void> {
    this.done = true;
    await rm(this.bodyPath, { force: true });
  }
}

/** Depth-first: files older than `cutoff` go, then a folder that is left empty and old. Races with a live owner are harmless. */
async function removeStale(file: string, cutoff: number): Promise<void> {
  const info = await stat(file).catch(() => undefined);
  if (!info) return;
  if (!info.isDirectory()) {
    if (info.mtimeMs < cutoff) await rm(file, { force: true });
    return;
  }
  for (const name of await readdir(file).catch(() => [])) await removeStale(path.join(file, name), cutoff);
  // rmdir refuses a folder that is not empty, so an owner's new draft is never lost
  if (info.mtimeMs < cutoff) await rmdir(file).catch(() => undefined);
}

function checkedId(queueId: string): string {
  if (!isQueueId(queueId)) throw new Error(`not a queue id: ${queueId}`);
  return queueId;
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Writes at the file's current end; after a short write (a disk filling up) the retry reports the real error. */
async function writeAll(file: FileHandle, bytes: Buffer): Promise<void> {
  for (let done = 0; done < bytes.length; ) done += (await file.write(bytes, done)).bytesWritten;
}
