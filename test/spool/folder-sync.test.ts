// The folder fsync shared by concurrent commits: a caller is released only by an fsync that began
// after its call, callers arriving meanwhile share one, and a failed fsync fails only its own callers.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderSync } from '../../src/spool/folder-sync.js';
import { tempDir } from '../support/tmp.js';

/** Stands in for the fsync call only, so the test decides when each one ends. */
class HeldSyncs {
  readonly started: { finish: (err?: Error) => void }[] = [];
  readonly run = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      this.started.push({ finish: (err) => (err ? reject(err) : resolve()) });
    });
}

const settled = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

describe('FolderSync', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => ({ dir, remove } = await tempDir('folder-sync')));
  afterEach(() => remove());

  it('releases a caller only after an fsync that started after its call', async () => {
    const syncs = new HeldSyncs();
    const folder = new FolderSync(dir, syncs.run);
    const released: string[] = [];
    void folder.sync().then(() => released.push('first'));
    await settled();
    // arrives while the first fsync runs: that one may predate its rename
    void folder.sync().then(() => released.push('second'));
    await settled();
    expect(syncs.started).toHaveLength(1);

    syncs.started[0]!.finish();
    await settled();
    expect(released).toEqual(['first']);
    expect(syncs.started).toHaveLength(2);

    syncs.started[1]!.finish();
    await settled();
    expect(released).toEqual(['first', 'second']);
  });

  it('lets everyone who arrived during one fsync share the next', async () => {
    const syncs = new HeldSyncs();
    const folder = new FolderSync(dir, syncs.run);
    const first = folder.sync();
    const batch = Array.from({ length: 50 }, () => folder.sync());
    await settled();
    syncs.started[0]!.finish();
    await first;
    await settled();
    syncs.started[1]!.finish();
    await Promise.all(batch);
    expect(syncs.started).toHaveLength(2);
    // idle again: the next caller starts an fsync of its own at once
    void folder.sync();
    await settled();
    expect(syncs.started).toHaveLength(3);
  });

  it('fails the callers of a failed fsync, and the next batch still gets its own', async () => {
    const syncs = new HeldSyncs();
    const folder = new FolderSync(dir, syncs.run);
    const first = folder.sync();
    const second = folder.sync();
    await settled();
    syncs.started[0]!.finish(new Error('EIO'));
    await expect(first).rejects.toThrow('EIO');
    await settled();
    expect(syncs.started).toHaveLength(2);
    syncs.started[1]!.finish();
    await expect(second).resolves.toBeUndefined();
  });

  it('fsyncs a real folder, and reports a missing one', async () => {
    const entries = path.join(dir, 'entries');
    await mkdir(entries);
    const folder = new FolderSync(entries);
    await expect(Promise.all(Array.from({ length: 20 }, () => folder.sync()))).resolves.toHaveLength(20);
    await expect(new FolderSync(path.join(dir, 'missing')).sync()).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
