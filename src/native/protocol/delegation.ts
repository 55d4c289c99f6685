// Redirect delegation proofs: a recipient domain's signed statement that one recipient's notices go
// to another endpoint, whose pulls and acks for that recipient alone are signed with the delegate's
// own Ed25519 key (`delegate_key`), until an expiry at most seven days ahead. Never domain-wide.

import { z } from 'zod';
import type { StatusCode } from '../../codes.js';
import { parseAddress, sameAddress } from './address.js';
import { toBase64Url } from './bytes.js';
import { keyIdOf } from './domain-keys.js';
import { type KeyLookup, type PrivateKeyInput, type PublicKeyInput, rawPublicKey, toPrivateKey } from './ed25519.js';
import { describeIssue, fail, ok, type Result } from './protocol-error.js';
import { address, base64url, domain, ed25519Signature, endpoint, keyId, unixTime } from './protocol-fields.js';
import { signStatement, verifyStatement } from './signed-statement.js';

/** The longest a proof may run: `expires` at most this far after the verifier's now. */
export const MAX_DELEGATION_S = 7 * 24 * 3600;

export const delegationSchema = z.strictObject({
  v: z.literal(1),
  domain,
  recipient: address,
  endpoint,
  /** base64url of the delegate's raw 32-byte Ed25519 public key */
  delegate_key: base64url(32, 32),
  expires: unixTime,
  key_id: keyId,
  sig: ed25519Signature,
});
export type Delegation = z.infer<typeof delegationSchema>;

export interface SignDelegationInput {
  domain: string;
  recipient: string;
  endpoint: string;
  /** the delegate's public key (raw 32 bytes or a key object) */
  delegateKey: PublicKeyInput;
  expires: number;
  privateKey: PrivateKeyInput;
}

export function signDelegation(input: SignDelegationInput): Delegation {
  const { domain, recipient, endpoint, delegateKey, expires, privateKey } = input;
  const unsigned = {
    v: 1 as const,
    domain,
    recipient,
    endpoint,
    delegate_key: toBase64Url(rawPublicKey(delegateKey)),
    expires,
    key_id: keyIdOf(toPrivateKey(privateKey)),
  };
  return { ...unsigned, sig: signStatement('pmtp1/delegation', unsigned, privateKey) };
}

/** The key id (§8.1) a delegate signs its requests with: the fingerprint of `delegate_key`. */
export function delegateKeyId(proof: Pick<Delegation, 'delegate_key'>): string {
  return keyIdOf(Buffer.from(proof.delegate_key, 'base64url'));
}

export type DelegationCode = Extract<
  StatusCode,
  'delegation_malformed' | 'delegation_mismatch' | 'delegation_expired' | 'unknown_key' | 'delegation_invalid'
>;

export interface VerifyDelegationContext {
  /** The recipient the notice is for; its domain must be the delegating domain. */
  recipient: string;
  /** The endpoint the redirect names. */
  endpoint: string;
  now: number;
  keyLookup: KeyLookup;
}

/** Verifies without throwing; valid while now ≤ expires ≤ now + MAX_DELEGATION_S. */
export async function verifyDelegation(
  proof: unknown,
  context: VerifyDelegationContext,
): Promise<Result<Delegation, DelegationCode>> {
  const parsed = delegationSchema.safeParse(proof);
  if (!parsed.success) return fail('delegation_malformed', describeIssue(parsed.error));
  const { sig, ...unsigned } = parsed.data;
  const sameDomain = parseAddress(context.recipient)?.domain === unsigned.domain;
  if (!sameAddress(unsigned.recipient, context.recipient) || !sameDomain || unsigned.endpoint !== context.endpoint) {
    return fail('delegation_mismatch', 'proof does not delegate this recipient to this endpoint');
  }
  if (context.now > unsigned.expires) return fail('delegation_expired', `expired at ${unsigned.expires}`);
  if (unsigned.expires > context.now + MAX_DELEGATION_S)
    return fail('delegation_malformed', `expires more than ${MAX_DELEGATION_S} s ahead`);
  const key = await context.keyLookup(unsigned.domain, unsigned.key_id, context.now);
  if (key === undefined) return fail('unknown_key', `${unsigned.domain} has no valid key ${unsigned.key_id}`);
  if (!verifyStatement('pmtp1/delegation', unsigned, sig, key)) return fail('delegation_invalid', 'bad signature');
  return ok(parsed.data);
}
