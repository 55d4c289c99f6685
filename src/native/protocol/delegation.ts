// Redirect delegation proofs: a recipient domain's signed statement that notices for it (or for one
// of its recipients) should go to another endpoint until an expiry. A sender follows a redirect only
// with a proof that verifies under the recipient domain's key set.

import { z } from 'zod';
import type { StatusCode } from '../../codes.js';
import { parseAddress, sameAddress } from './address.js';
import { keyIdOf } from './domain-keys.js';
import { type KeyLookup, type PrivateKeyInput, toPrivateKey } from './ed25519.js';
import { describeIssue, fail, ok, type Result } from './protocol-error.js';
import { address, domain, ed25519Signature, endpoint, keyId, unixTime } from './protocol-fields.js';
import { signStatement, verifyStatement } from './signed-statement.js';

export const delegationSchema = z.strictObject({
  v: z.literal(1),
  domain,
  /** Absent: the whole domain is delegated. */
  recipient: address.optional(),
  endpoint,
  expires: unixTime,
  key_id: keyId,
  sig: ed25519Signature,
});
export type Delegation = z.infer<typeof delegationSchema>;

export interface SignDelegationInput {
  domain: string;
  recipient?: string;
  endpoint: string;
  expires: number;
  privateKey: PrivateKeyInput;
}

export function signDelegation(input: SignDelegationInput): Delegation {
  const { domain, recipient, endpoint, expires, privateKey } = input;
  const unsigned = {
    v: 1 as const,
    domain,
    ...(recipient === undefined ? {} : { recipient }),
    endpoint,
    expires,
    key_id: keyIdOf(toPrivateKey(privateKey)),
  };
  return { ...unsigned, sig: signStatement('pmtp1/delegation', unsigned, privateKey) };
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

/** Verifies without throwing; valid while now ≤ expires. */
export async function verifyDelegation(
  proof: unknown,
  context: VerifyDelegationContext,
): Promise<Result<Delegation, DelegationCode>> {
  const parsed = delegationSchema.safeParse(proof);
  if (!parsed.success) return fail('delegation_malformed', describeIssue(parsed.error));
  const { sig, ...unsigned } = parsed.data;
  const covers = unsigned.recipient === undefined || sameAddress(unsigned.recipient, context.recipient);
  const sameDomain = parseAddress(context.recipient)?.domain === unsigned.domain;
  if (!covers || !sameDomain || unsigned.endpoint !== context.endpoint) {
    return fail('delegation_mismatch', 'proof does not delegate this recipient to this endpoint');
  }
  if (context.now > unsigned.expires) return fail('delegation_expired', `expired at ${unsigned.expires}`);
  const key = await context.keyLookup(unsigned.domain, unsigned.key_id, context.now);
  if (key === undefined) return fail('unknown_key', `${unsigned.domain} has no valid key ${unsigned.key_id}`);
  if (!verifyStatement('pmtp1/delegation', unsigned, sig, key)) return fail('delegation_invalid', 'bad signature');
  return ok(parsed.data);
}
