// The default body store: one file per entry in `<spool.dir>/entries/`. Placing = fsync the draft,
// rename it into the folder, fsync the folder (shared by concurrent commits), so a listed entry is always whole.

import { type FileHandle, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { BodyStore, SpoolStep } from './body-store.js';
import { FolderSync } from './folder-sync.js';

/** Removals wait at most this long for the folder fsync that makes them durable (shared by all in between). */
const REMOVAL_SYNC_MS = 1000;

export class FolderBodyStore implements BodyStore {
  /** one page: a typical meta and footer, read from the page cache */
  readonly tailBytes = 4096;
  private readonly sync: FolderSync;
  /** the folder fsync that makes removals durable, due within REMOVAL_SYNC_MS of the first since the last */
  private removalSync: NodeJS.Timeout | undefined;

  constructor(readonly dir: string) {
    this.sync = new FolderSync(dir);
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  async place(
    tmpPath: string,
    file: FileHandle,
    queueId: string,
    step: (step: SpoolStep) => Promise<void>,
  ): Promise<void> {
    await file.sync();
    await step('file-synced');
    await rename(tmpPath, this.locate(queueId));
    await step('renamed');
    // only a folder fsync begun after our rename counts; concurrent commits share it
    await this.sync.sync();
    await step('dir-synced');
  }

  async has(queueId: string): Promise<boolean> {
    return stat(this.locate(queueId)).then(
      () => true,
      () => false,
    );
  }

  list(): Promise<string[]> {
    return readdir(this.dir);
  }

  async tail(queueId: string, length: number): Promise<{ bytes: Buffer; size: number }> {
    const handle = await open(this.locate(queueId), 'r');
    try {
      const { size } = await handle.stat();
      const bytes = Buffer.alloc(Math.min(length, size));
      await handle.read(bytes, 0, bytes.length, size - bytes.length);
      return { bytes, size };
    } finally {
      await handle.close();
    }
  }

  async range(queueId: string, start: number, end: number): Promise<Readable> {
    // opened here, so a removed entry fails now (ENOENT) rather than on the stream's first read
    const handle = await open(this.locate(queueId), 'r');
    // the stream owns the handle from here and closes it when it ends or is destroyed
    return handle.createReadStream({ start, end });
  }

  /**
   * Unlinks an entry without waiting for a folder fsync of its own: kill -9 cannot undo an unlink,
   * and after a power loss an entry that came back is delivered again, never lost. The folder fsync
   * of the next placement covers the removal, and a shared one follows within REMOVAL_SYNC_MS anyway.
   */
  async remove(queueId: string): Promise<void> {
    await unlink(this.locate(queueId)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    if (this.removalSync) return;
    this.removalSync = setTimeout(() => {
      this.removalSync = undefined;
      // housekeeping: the removal happened, only its durability waits; a failure here refuses nothing
      void this.sync.sync().catch(() => undefined);
    }, REMOVAL_SYNC_MS);
    this.removalSync.unref();
  }

  locate(queueId: string): string {
    return path.join(this.dir, queueId);
  }

  async sweep(): Promise<void> {
    // a rename is atomic: an interrupted placement leaves only a draft, which the spool's tmp sweep removes
  }
}
