// The default body store: one file per entry in `<spool.dir>/entries/`. Placing = fsync the draft,
// rename it into the folder, fsync the folder (shared by concurrent commits), so a listed entry is always whole.

import { createReadStream } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { BodyStore, SpoolStep } from './body-store.js';
import { FolderSync } from './folder-sync.js';

export class FolderBodyStore implements BodyStore {
  /** one page: a typical meta and footer, read from the page cache */
  readonly tailBytes = 4096;
  private readonly sync: FolderSync;

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
    return createReadStream(this.locate(queueId), { start, end });
  }

  async remove(queueId: string): Promise<void> {
    await unlink(this.locate(queueId)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    await this.sync.sync();
  }

  locate(queueId: string): string {
    return path.join(this.dir, queueId);
  }

  async sweep(): Promise<void> {
    // a rename is atomic: an interrupted placement leaves only a draft, which the spool's tmp sweep removes
  }
}
