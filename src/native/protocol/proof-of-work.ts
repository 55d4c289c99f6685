// Hashcash-style proof of work for first contact: the recipient server issues a challenge bound to
// one notice, sender and recipient, MACs it so it can be checked without state, and the sender finds
// a solution whose SHA-256 work hash starts with `bits` zero bits. One tunable cost, not a defence alone.

import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { StatusCode } from '../../codes.js';
import { sameAddress } from './address.js';
import { sha256, sha256Base64Url, toBase64Url } from './bytes.js';
import { canonicalBytes } from './canonical-json.js';
import { describeIssue, fail, ok, type Result } from './protocol-error.js';
import { address, base64url, messageId, unixTime } from './protocol-fields.js';
import { statementBytes } from './signed-statement.js';
import type { DefinedMembers } from './versioned-object.js';

export const MAX_POW_BITS = 40;
const SOLUTION = /^[A-Za-z0-9_-]{1,64}$/;

export const powChallengeSchema = z.looseObject({
  v: z.literal(1),
  bits: z.number().int().min(1).max(MAX_POW_BITS),
  salt: base64url(16, 32),
  notice_id: messageId,
  sender: address,
  recipient: address,
  expires: unixTime,
  mac: base64url(32, 32),
});
export type PowChallenge = DefinedMembers<typeof powChallengeSchema.shape>;

export interface IssueChallengeInput {
  bits: number;
  /** 16–32 random bytes, so that two challenges never share an id. */
  salt: Uint8Array;
  noticeId: string;
  sender: string;
  recipient: string;
  expires: number;
  /** The recipient server's HMAC secret (32 bytes or more). */
  secret: Uint8Array;
}

function macOf(unsigned: Omit<PowChallenge, 'mac'>, secret: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(statementBytes('pmtp1/pow-challenge', unsigned)).digest();
}

export function issueChallenge(input: IssueChallengeInput): PowChallenge {
  const unsigned = {
    v: 1 as const,
    bits: input.bits,
    salt: toBase64Url(input.salt),
    notice_id: input.noticeId,
    sender: input.sender,
    recipient: input.recipient,
    expires: input.expires,
  };
  return { ...unsigned, mac: toBase64Url(macOf(unsigned, input.secret)) };
}

/** Stable id of a challenge: the key for the server's spent-stamp set. */
export function challengeId(challenge: PowChallenge): string {
  return sha256Base64Url(canonicalBytes(challenge));
}

/** SHA-256(UTF-8(challengeId + ":" + solution)). */
export function workHash(challenge: PowChallenge, solution: string): Buffer {
  return sha256(`${challengeId(challenge)}:${solution}`);
}

export function leadingZeroBits(bytes: Uint8Array): number {
  let bits = 0;
  for (const byte of bytes) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

/** Tries counters 0, 1, 2… as decimal strings; undefined if none works within maxIterations. */
export function solveChallenge(challenge: PowChallenge, maxIterations = 1 << 24): string | undefined {
  const prefix = `${challengeId(challenge)}:`;
  for (let counter = 0; counter < maxIterations; counter++) {
    if (leadingZeroBits(sha256(prefix + counter)) >= challenge.bits) return String(counter);
  }
  return undefined;
}

export type PowCode = Extract<
  StatusCode,
  'challenge_invalid' | 'challenge_expired' | 'challenge_mismatch' | 'pow_insufficient'
>;

export interface VerifySolutionContext {
  secret: Uint8Array;
  now: number;
  noticeId: string;
  sender: string;
  recipient: string;
}

/**
 * Checks MAC, expiry (valid while now ≤ expires), binding to this notice, sender and recipient, then
 * the work. Single use is the caller's: record `stampId` until `expires`.
 */
export function verifySolution(
  challenge: unknown,
  solution: unknown,
  context: VerifySolutionContext,
): Result<{ stampId: string; expires: number }, PowCode> {
  const parsed = powChallengeSchema.safeParse(challenge);
  if (!parsed.success) return fail('challenge_invalid', describeIssue(parsed.error));
  const { mac, ...unsigned } = parsed.data;
  if (!timingSafeEqual(Buffer.from(mac, 'base64url'), macOf(unsigned, context.secret))) {
    return fail('challenge_invalid', 'challenge was not issued by this server');
  }
  if (context.now > unsigned.expires) return fail('challenge_expired', `expired at ${unsigned.expires}`);
  const bound =
    unsigned.notice_id === context.noticeId &&
    sameAddress(unsigned.sender, context.sender) &&
    sameAddress(unsigned.recipient, context.recipient);
  if (!bound) return fail('challenge_mismatch', 'challenge belongs to another notice, sender or recipient');
  if (typeof solution !== 'string' || !SOLUTION.test(solution)) return fail('pow_insufficient', 'malformed solution');
  if (leadingZeroBits(workHash(parsed.data, solution)) < unsigned.bits) {
    return fail('pow_insufficient', `work hash has fewer than ${unsigned.bits} leading zero bits`);
  }
  return ok({ stampId: challengeId(parsed.data), expires: unsigned.expires });
}
