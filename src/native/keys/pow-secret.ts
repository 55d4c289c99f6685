// The HMAC secret of our proof-of-work challenges: read from `pmtp.pow_secret_file` (default
// `<spool.dir>/pow-secret`), created with 32 random bytes and mode 0600 on first start. Kept apart
// from the domain key, so a key rotation leaves every open challenge verifiable.
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../config/schema.js';

const MIN_BYTES = 32;

type SecretConfig = {
  readonly spool: Pick<Config['spool'], 'dir'>;
  readonly pmtp: Pick<Config['pmtp'], 'pow_secret_file'>;
};

function powSecretPath(config: SecretConfig): string {
  return config.pmtp.pow_secret_file ?? path.join(config.spool.dir, 'pow-secret');
}

/** The secret as base64url text (one line), so operators can copy it to the gateways sharing a domain. */
export async function loadPowSecret(config: SecretConfig): Promise<Buffer> {
  const file = powSecretPath(config);
  const existing = await readSecret(file);
  if (existing) return existing;
  await mkdir(path.dirname(file), { recursive: true });
  // written whole under a private name, then linked into place: a gateway starting at the same
  // moment either wins the link or reads the winner's complete file
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  const handle = await open(draft, 'wx', 0o600);
  try {
    await handle.writeFile(`${randomBytes(MIN_BYTES).toString('base64url')}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(draft, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await unlink(draft);
  }
  const created = await readSecret(file);
  if (!created) throw new Error(`${file}: proof-of-work secret missing after creation`);
  return created;
}

async function readSecret(file: string): Promise<Buffer | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const secret = Buffer.from(text.trim(), 'base64url');
  if (secret.length < MIN_BYTES)
    throw new Error(`${file}: proof-of-work secret must be at least ${MIN_BYTES} bytes of base64url`);
  return secret;
}
