// Kills a spool writer (SIGKILL, in a child process) between every two steps of a write and
// checks the promise: a complete entry is never lost and a partial one is never listed; also with
// many writes committing at once (sharing folder fsyncs), killed wherever the others happen to be.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Spool } from '../../src/spool/spool.js';
import { tempDir } from '../support/tmp.js';

const writer = path.join(import.meta.dirname, 'crash-writer.mjs');

async function killAt(dir: string, step: string, parallel = 1): Promise<string> {
  const child = spawn(process.execPath, [writer, dir, step, String(parallel)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  for await (const chunk of child.stdout) {
    out += String(chunk);
    if (out.includes('\n')) break;
  }
  const match = /^AT (\S+) (\S+)$/m.exec(out);
  expect(match?.[1]).toBe(step);
  child.kill('SIGKILL');
  if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  return match![2]!;
}

const beforeRename = ['mid-body', 'body-written', 'meta-written', 'file-synced'];
const afterRename = ['renamed', 'dir-synced', 'done'];

describe('spool crash safety', () => {
  for (const step of beforeRename) {
    it(`kill -9 at ${step}: nothing listed, temp file cleaned`, async () => {
      const { dir, remove } = await tempDir('crash');
      try {
        const queueId = await killAt(dir, step);
        const tmp = path.join(dir, 'tmp', 'writer');
        expect(await readdir(tmp)).toContain(queueId);
        // another instance on the same folder leaves a fresh draft alone; the writer's restart clears it
        expect(await new Spool(dir, { instance: 'other' }).recover()).toEqual({ entries: [], unreadable: [] });
        expect(await readdir(tmp)).toContain(queueId);
        expect(await new Spool(dir, { instance: 'writer' }).recover()).toEqual({ entries: [], unreadable: [] });
        expect(await readdir(tmp)).toEqual([]);
      } finally {
        await remove();
      }
    });
  }
  for (const step of afterRename) {
    it(`kill -9 at ${step}: the whole entry is listed`, async () => {
      const { dir, remove } = await tempDir('crash');
      try {
        const queueId = await killAt(dir, step);
        const { entries } = await new Spool(dir).recover();
        expect(entries.map((e) => [e.queueId, e.size])).toEqual([[queueId, 128 * 1024]]);
        expect(entries[0]!.meta.envelope.rcptTo).toEqual(['b@y.test']);
      } finally {
        await remove();
      }
    });
  }

  for (const step of ['file-synced', 'renamed', 'dir-synced']) {
    it(`kill -9 at ${step} of one of 20 concurrent commits: every listed entry is whole`, async () => {
      const { dir, remove } = await tempDir('crash');
      try {
        const queueId = await killAt(dir, step, 20);
        const { entries } = await new Spool(dir, { instance: 'writer' }).recover();
        for (const entry of entries) {
          expect(entry.size).toBe(128 * 1024);
          expect(entry.meta.envelope.rcptTo).toEqual(['b@y.test']);
        }
        expect(entries.some((e) => e.queueId === queueId)).toBe(step !== 'file-synced');
        expect(await readdir(path.join(dir, 'tmp', 'writer'))).toEqual([]);
      } finally {
        await remove();
      }
    });
  }
});
