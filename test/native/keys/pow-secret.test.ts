// The challenge secret file: created once with mode 0600 under spool.dir, the same bytes on every
// later start and for gateways starting together, a configured file used as is, a short one refused.
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPowSecret } from '../../../src/native/keys/pow-secret.js';
import { tempDir } from '../../support/tmp.js';

describe('loadPowSecret', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, remove } = await tempDir('pow-secret'));
  });
  afterAll(async () => remove());

  const config = (spool: string, file?: string) => ({
    spool: { dir: spool },
    pmtp: file ? { pow_secret_file: file } : {},
  });

  it('creates a private 32-byte secret on first start and reads the same one after', async () => {
    const spool = path.join(dir, 'first');
    const first = await loadPowSecret(config(spool));
    expect(first.length).toBe(32);
    expect((await stat(path.join(spool, 'pow-secret'))).mode & 0o777).toBe(0o600);
    expect(await loadPowSecret(config(spool))).toEqual(first);
  });

  it('gives gateways starting at once one secret', async () => {
    const spool = path.join(dir, 'together');
    const secrets = await Promise.all(Array.from({ length: 8 }, () => loadPowSecret(config(spool))));
    for (const s of secrets) expect(s).toEqual(secrets[0]);
  });

  it('uses a configured file and refuses one too short', async () => {
    const file = path.join(dir, 'shared.secret');
    const bytes = Buffer.alloc(48, 9);
    await writeFile(file, `${bytes.toString('base64url')}\n`, { mode: 0o600 });
    expect(await loadPowSecret(config(dir, file))).toEqual(bytes);
    const short = path.join(dir, 'short.secret');
    await writeFile(short, Buffer.alloc(16).toString('base64url'));
    await expect(loadPowSecret(config(dir, short))).rejects.toThrow(/at least 32 bytes/);
  });
});
