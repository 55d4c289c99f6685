// The key ring on disk (`pmtp.key_ring_file`): one JSON document holding each key's PKCS#8 PEM and
// its lifecycle timestamps, mode 0600. Read through a zod schema; written whole to a private name,
// fsynced and renamed into place, so a reader (the running gateway) sees the old ring or the new one.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { RingKey } from './key-ring-state.js';

const moment = z.number().int().nonnegative();
const ringKeySchema = z
  .object({
    key_id: z.string().regex(/^ed25519:[A-Za-z0-9_-]{43}$/),
    private_key: z.string().includes('PRIVATE KEY'),
    published_at: moment,
    signs_from: moment,
    signs_until: moment.optional(),
    retired_at: moment.optional(),
    expired_at: moment.optional(),
    drop_at: moment.optional(),
    revoked_at: moment.optional(),
  })
  .strict();

export const ringFileSchema = z
  .object({
    v: z.literal(1),
    domain: z.string().min(1),
    keys: z.array(ringKeySchema).max(100),
  })
  .strict();

export type RingFileKey = RingKey & { readonly private_key: string };
export interface RingFile {
  readonly v: 1;
  readonly domain: string;
  readonly keys: readonly RingFileKey[];
}

/** The ring file's default place: `<spool.dir>/keys/<domain>.ring.json`. */
export function defaultRingPath(spoolDir: string, domain: string): string {
  return path.join(spoolDir, 'keys', `${domain}.ring.json`);
}

/** The ring at `file`, or undefined when there is none yet; a malformed file is an error naming it. */
export async function readRingFile(file: string): Promise<RingFile | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${file}: key ring is not JSON`);
  }
  const parsed = ringFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${file}: key ring is malformed at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  return parsed.data;
}

export async function writeRingFile(file: string, ring: RingFile): Promise<void> {
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const draft = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}`);
  const handle = await open(draft, 'wx', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(ring, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(draft, file);
  } catch (err) {
    await unlink(draft).catch(() => undefined);
    throw err;
  }
  const dirHandle = await open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}
