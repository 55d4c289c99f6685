// The fleet's shared secret (`node.secret_file`): the HMAC key of the hop mark one node puts on a
// pull it hands to another. Every node of a fleet reads the same file; a short one is refused.
import { readFile } from 'node:fs/promises';

/** Fewer octets than this is guessable: `openssl rand -hex 32` gives 64. */
const minLength = 32;

export async function loadNodeSecret(file: string): Promise<Buffer> {
  const secret = Buffer.from((await readFile(file, 'utf8')).trim(), 'utf8');
  if (secret.length < minLength)
    throw new Error(`node.secret_file ${file}: the fleet secret must be at least ${minLength} characters`);
  return secret;
}
