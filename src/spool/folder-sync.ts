// Group commit for a folder's fsync: every caller waits for an fsync that started after it called,
// and callers that arrive while one is in flight share the next one, so a burst of renames costs
// two folder fsyncs instead of one each. At most one runs at a time.

import { open } from 'node:fs/promises';

export class FolderSync {
  private inFlight: Promise<void> | undefined;
  /** the fsync that starts when `inFlight` ends; everyone who called meanwhile waits for it */
  private queued: Promise<void> | undefined;

  constructor(
    readonly dir: string,
    private readonly syncNow: (dir: string) => Promise<void> = syncFolder,
  ) {}

  /** Resolves once an fsync of the folder that began after this call has completed (its error otherwise). */
  sync(): Promise<void> {
    if (this.queued) return this.queued;
    if (!this.inFlight) return this.start();
    // the running fsync may have begun before our caller's rename, so it cannot cover it
    this.queued = this.inFlight
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.start();
      });
    return this.queued;
  }

  private start(): Promise<void> {
    const running: Promise<void> = this.syncNow(this.dir).finally(() => {
      if (this.inFlight === running) this.inFlight = undefined;
    });
    this.inFlight = running;
    return running;
  }
}

async function syncFolder(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
