// dkim-sign: signs outgoing RFC 5322 bytes with the organisation key (rsa-sha256, relaxed/relaxed).
// A signature needs the body hash before the first byte goes out, so the body is held back:
// in memory up to `cache_threshold_bytes`, the rest in a file, never the whole 50 MB in RAM.

import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import DKIM from 'nodemailer/lib/dkim';
import type { Config } from '../config/schema.js';

export interface DkimSigner {
  readonly domain: string;
  readonly selector: string;
  /** The same message with a DKIM-Signature header on top; errors surface on the returned stream. */
  sign(message: Readable): Readable;
}

/**
 * Reads the key once. `cacheDir` holds the spilled bodies and belongs to this signer alone
 * (one gateway per spool): files left there by a crash are removed here, at start-up.
 */
export async function loadDkimSigner(dkim: NonNullable<Config['dkim']>, cacheDir: string): Promise<DkimSigner> {
  const privateKey = await readFile(dkim.key_file, 'utf8');
  await mkdir(cacheDir, { recursive: true, mode: 0o700 });
  for (const name of await readdir(cacheDir)) {
    if (name.startsWith('message.')) await rm(path.join(cacheDir, name), { force: true });
  }
  const signer = new DKIM({
    domainName: dkim.domain,
    keySelector: dkim.selector,
    privateKey,
    cacheDir,
    cacheTreshold: dkim.cache_threshold_bytes,
    hashAlgo: 'sha256',
  });
  return { domain: dkim.domain, selector: dkim.selector, sign: (message) => signer.sign(message) };
}
