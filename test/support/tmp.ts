// Throw-away folders under the OS temp dir, removed by the caller's afterEach/afterAll.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

export async function tempDir(label: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), `mailbridge-${label}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
