// DKIM signing with the organisation key, checked by mailauth's verifier; big bodies spill to disk.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { dkimVerify } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDkimSigner } from '../../src/mail/dkim-signer.js';
import { makeDkimKey, type TestDkimKey } from '../support/dkim-key.js';
import { tempDir } from '../support/tmp.js';

const header =
  'From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: signed\r\nDate: Tue, 02 Jan 2024 03:04:05 +0000\r\nMessage-ID: <1@example.org>\r\n\r\n';

describe('loadDkimSigner', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let key: TestDkimKey;

  beforeAll(async () => {
    ({ dir, remove } = await tempDir('dkim'));
    key = await makeDkimKey(dir, 'example.org', 'mb1');
  });
  afterAll(() => remove());

  it('adds a relaxed/relaxed rsa-sha256 signature that verifies', async () => {
    const signer = await loadDkimSigner(
      { domain: 'example.org', selector: 'mb1', key_file: key.keyFile, cache_threshold_bytes: 1 << 20 },
      path.join(dir, 'cache'),
    );
    const signed = await buffer(signer.sign(Readable.from([Buffer.from(`${header}Hello,  world \r\n\r\n\r\n`)])));
    expect(signed.toString()).toMatch(/^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=example.org;/);
    const result = await dkimVerify(signed, { resolver: key.resolver });
    expect(result.results.map((r) => [r.signingDomain, r.status.result])).toEqual([['example.org', 'pass']]);
  });

  it('spills a body over the threshold to the cache folder, still verifies, and leaves no file behind', async () => {
    const cacheDir = path.join(dir, 'spill');
    const signer = await loadDkimSigner(
      { domain: 'example.org', selector: 'mb1', key_file: key.keyFile, cache_threshold_bytes: 64 * 1024 },
      cacheDir,
    );
    const line = Buffer.from(`${'x'.repeat(76)}\r\n`);
    const body = Readable.from(
      (function* () {
        yield Buffer.from(header);
        for (let i = 0; i < 40_000; i++) yield line; // ~3 MB
      })(),
    );
    const out = signer.sign(body) as Readable & { usingCache?: boolean };
    const signed = await buffer(out);
    expect(out.usingCache).toBe(true);
    expect(signed.length).toBeGreaterThan(3_000_000);
    const result = await dkimVerify(signed, { resolver: key.resolver });
    expect(result.results[0]?.status.result).toBe('pass');
    await new Promise((r) => setTimeout(r, 50));
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it('clears bodies a crash left in its cache folder when it loads', async () => {
    const cacheDir = path.join(dir, 'stale');
    await mkdir(cacheDir);
    await writeFile(path.join(cacheDir, 'message.1-abc'), 'left by a crash');
    await loadDkimSigner(
      { domain: 'example.org', selector: 'mb1', key_file: key.keyFile, cache_threshold_bytes: 1024 },
      cacheDir,
    );
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it('fails the stream when the input fails', async () => {
    const signer = await loadDkimSigner(
      { domain: 'example.org', selector: 'mb1', key_file: key.keyFile, cache_threshold_bytes: 1 << 20 },
      path.join(dir, 'cache'),
    );
    const broken = new Readable({
      read() {
        this.destroy(new Error('spool read failed'));
      },
    });
    await expect(buffer(signer.sign(broken))).rejects.toThrow('spool read failed');
  });
});
