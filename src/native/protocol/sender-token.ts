// Pre-approved sender tokens: a recipient's domain lets one sender address or domain reach one
// recipient without a challenge, until an expiry and (counted by the server) up to max_uses times.
// Compact form: base64url(canonical JSON payload) "." base64url(Ed25519 signature).

import { z } from 'zod';
import type { StatusCode } from '../../codes.js';
import { parseAddress, sameAddress } from './address.js';
import { toBase64Url, tryFromBase64Url } from './bytes.js';
import { canonicalBytes, parseCanonicalJson } from './canonical-json.js';
import { keyIdOf } from './domain-keys.js';
import { ed25519Sign, ed25519Verify, type KeyLookup, type PrivateKeyInput, toPrivateKey } from './ed25519.js';
import { describeIssue, fail, ok, type Result } from './protocol-error.js';
import { address, domain, keyId, positiveInt, unixTime } from './protocol-fields.js';
import { statementBytes } from './signed-statement.js';
import type { DefinedMembers } from './versioned-object.js';

export const senderTokenSchema = z.looseObject({
  v: z.literal(1),
  token_id: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/),
  issuer: domain,
  key_id: keyId,
  recipient: address,
  scope: z.union([z.strictObject({ address }), z.strictObject({ domain })]),
  expires: unixTime,
  max_uses: positiveInt.optional(),
});
export type SenderToken = DefinedMembers<typeof senderTokenSchema.shape>;
export type SenderTokenInput = Omit<SenderToken, 'v' | 'key_id'>;

export function issueSenderToken(input: SenderTokenInput, privateKey: PrivateKeyInput): string {
  const payload: SenderToken = { v: 1, ...input, key_id: keyIdOf(toPrivateKey(privateKey)) };
  const parsed = senderTokenSchema.safeParse(payload);
  if (!parsed.success) throw new TypeError(`bad sender token: ${describeIssue(parsed.error)}`);
  const sig = ed25519Sign(privateKey, statementBytes('pmtp1/sender-token', payload));
  return `${toBase64Url(canonicalBytes(payload))}.${toBase64Url(sig)}`;
}

export type SenderTokenCode = Extract<
  StatusCode,
  | 'token_malformed'
  | 'token_wrong_issuer'
  | 'token_wrong_recipient'
  | 'token_expired'
  | 'unknown_key'
  | 'token_invalid'
  | 'token_scope_mismatch'
>;

export interface VerifySenderTokenContext {
  /** The notice's sender. */
  sender: string;
  /** The recipient the token is presented for; its domain must have issued it. */
  recipient: string;
  now: number;
  keyLookup: KeyLookup;
}

/** The claims, unverified: enough to route a token to the domain that issued it, never to trust it. */
export function readSenderToken(
  token: unknown,
): Result<{ claims: SenderToken; json: unknown; sig: Buffer }, 'token_malformed'> {
  const [encoded, sigText, ...rest] = typeof token === 'string' && token.length <= 4096 ? token.split('.') : [];
  const payloadBytes = tryFromBase64Url(encoded ?? '');
  const sig = tryFromBase64Url(sigText ?? '');
  if (!payloadBytes || !sig || rest.length > 0) return fail('token_malformed', 'not payload.signature in base64url');
  let json: unknown;
  try {
    json = parseCanonicalJson(payloadBytes);
  } catch {
    return fail('token_malformed', 'payload is not canonical JSON');
  }
  const parsed = senderTokenSchema.safeParse(json);
  if (!parsed.success) return fail('token_malformed', describeIssue(parsed.error));
  return ok({ claims: parsed.data, json, sig });
}

/** Verifies without throwing; counting uses and revocation by token_id are the server's. */
export async function verifySenderToken(
  token: unknown,
  context: VerifySenderTokenContext,
): Promise<Result<SenderToken, SenderTokenCode>> {
  const read = readSenderToken(token);
  if (!read.ok) return read;
  const { claims, json, sig } = read.value;
  if (claims.issuer !== parseAddress(context.recipient)?.domain) {
    return fail('token_wrong_issuer', `issued by ${claims.issuer}`);
  }
  if (!sameAddress(claims.recipient, context.recipient)) {
    return fail('token_wrong_recipient', 'token is for another recipient');
  }
  if (context.now > claims.expires) return fail('token_expired', `expired at ${claims.expires}`);
  const key = await context.keyLookup(claims.issuer, claims.key_id, context.now);
  if (key === undefined) return fail('unknown_key', `${claims.issuer} has no valid key ${claims.key_id}`);
  if (!ed25519Verify(key, statementBytes('pmtp1/sender-token', json), sig))
    return fail('token_invalid', 'bad signature');
  const inScope =
    'address' in claims.scope
      ? sameAddress(claims.scope.address, context.sender)
      : claims.scope.domain === parseAddress(context.sender)?.domain;
  return inScope ? ok(claims) : fail('token_scope_mismatch', 'sender is outside the token scope');
}
