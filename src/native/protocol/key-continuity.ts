// Key-set continuity (§8.8): what a verifier remembers of the key set it last trusted for a domain,
// and whether a newly fetched set follows from it, that is, is signed by a key trusted before and
// not revoked since. A set that does not must be confirmed afresh by the domain's trust anchor.
import { z } from 'zod';
import type { KeySet } from './domain-keys.js';
import { fail, ok, type Result } from './protocol-error.js';
import { verifyStatement } from './signed-statement.js';

/** The remembered trust of one domain: the key ids that signed for it. */
export const trustRecordSchema = z
  .object({
    v: z.literal(1),
    /** the current keys (`keys`) of the last trusted set */
    keys: z.array(z.string()).min(1).max(20),
    /** when the last set was trusted */
    trusted_at: z.number().int().nonnegative(),
    /** how this set was trusted: DNS alone, the HTTPS anchor, the static directory, or a key trusted before */
    via: z.enum(['dns', 'anchor', 'config', 'continuity']),
  })
  .strict();
export type TrustRecord = z.infer<typeof trustRecordSchema>;

/** Where trust records live (Redis in the gateway); one record per peer domain. */
export interface PeerTrustStore {
  get(domain: string): Promise<TrustRecord | undefined>;
  put(domain: string, record: TrustRecord): Promise<void>;
  forget(domain: string): Promise<void>;
}

/** Key ids of `set`'s current keys whose signature over the set verifies. */
export function keySetSigners(set: KeySet): string[] {
  const { signatures, ...unsigned } = set;
  return signatures.flatMap((s) => {
    const key = set.keys.find((k) => k.key_id === s.key_id);
    const good =
      key !== undefined && verifyStatement('pmtp1/keyset', unsigned, s.sig, Buffer.from(key.public_key, 'base64url'));
    return good ? [s.key_id] : [];
  });
}

/**
 * Whether `next` continues `previous`: some key of the previous set signed it, and `next` does not
 * revoke that key. Without a previous record the set is a first contact (the caller's discovery rules apply).
 */
export function continuityOf(
  previous: TrustRecord | undefined,
  next: KeySet,
): Result<'first' | 'continuous', 'keyset_discontinuous'> {
  if (!previous) return ok('first');
  const revoked = new Set((next.revoked ?? []).map((k) => k.key_id));
  const trusted = new Set(previous.keys.filter((id) => !revoked.has(id)));
  if (keySetSigners(next).some((id) => trusted.has(id))) return ok('continuous');
  return fail('keyset_discontinuous', `key set of ${next.domain} is signed by no key trusted before`);
}

/** The record to keep after trusting `set` at `now`. */
export function trustRecordOf(set: KeySet, now: number, via: TrustRecord['via']): TrustRecord {
  return { v: 1, keys: set.keys.map((k) => k.key_id), trusted_at: now, via };
}
