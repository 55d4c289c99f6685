// Domain-separated Ed25519 signatures over canonical JSON, shared by every signed PMTP/1 object.
// Signing input = UTF-8(context) || 0x00 || canonical JSON, so a signature made for one purpose
// (say a sender token) can never be replayed as another (say a key set).
import { toBase64Url, tryFromBase64Url } from './bytes.js';
import { canonicalBytes } from './canonical-json.js';
import { ed25519Sign, ed25519Verify, type PrivateKeyInput, type PublicKeyInput } from './ed25519.js';

export type StatementContext =
  | 'pmtp1/message-signature'
  | 'pmtp1/keyset'
  | 'pmtp1/sender-token'
  | 'pmtp1/delegation'
  | 'pmtp1/pow-challenge';

export function statementBytes(context: StatementContext, payload: unknown): Buffer {
  return Buffer.concat([Buffer.from(context, 'utf8'), Buffer.of(0), canonicalBytes(payload)]);
}

/** Base64url Ed25519 signature over the statement; throws if the payload is not canonical-encodable. */
export function signStatement(context: StatementContext, payload: unknown, key: PrivateKeyInput): string {
  return toBase64Url(ed25519Sign(key, statementBytes(context, payload)));
}

/** Never throws: a malformed payload, signature or key is simply not valid. */
export function verifyStatement(
  context: StatementContext,
  payload: unknown,
  signature: string,
  key: PublicKeyInput,
): boolean {
  const sig = tryFromBase64Url(signature);
  if (!sig) return false;
  try {
    return ed25519Verify(key, statementBytes(context, payload), sig);
  } catch {
    return false;
  }
}
