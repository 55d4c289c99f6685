// Message signatures over the manifest digest: one origin, optional authors, then a chain of hops.
// Origin and author signatures cover the digest; each hop also covers every signature before it
// (as ARC/DKIM2 do), so a relay cannot drop or reorder earlier signers without detection.
import { z } from 'zod';
import { domainOf } from './address.js';
import { sha256Base64Url } from './bytes.js';
import { canonicalBytes } from './canonical-json.js';
import type { KeyLookup, PrivateKeyInput } from './ed25519.js';
import type { Manifest } from './message-format.js';
import { domain, ed25519Signature, keyId, unixTime } from './protocol-fields.js';
import { signStatement, verifyStatement } from './signed-statement.js';
import type { DefinedMembers } from './versioned-object.js';

export const SIGNATURE_ROLES = ['origin', 'author', 'hop'] as const;
export type SignatureRole = (typeof SIGNATURE_ROLES)[number];

export const messageSignatureSchema = z.looseObject({
  role: z.enum(SIGNATURE_ROLES),
  domain,
  key_id: keyId,
  alg: z.literal('ed25519'),
  created: unixTime,
  sig: ed25519Signature,
});
export type MessageSignature = DefinedMembers<typeof messageSignatureSchema.shape>;

export interface SignManifestInput {
  manifestDigest: string;
  /** Signatures already present, in order; a hop signature covers all of them. */
  previous: readonly MessageSignature[];
  role: SignatureRole;
  domain: string;
  keyId: string;
  privateKey: PrivateKeyInput;
  created: number;
}

/** What each signature signs: its own fields, the digest and, for hops, the chain before it. */
function signedPayload(digest: string, sig: Omit<MessageSignature, 'sig'>, previous: readonly unknown[]) {
  const payload: Record<string, unknown> = { ...sig, manifest_digest: digest };
  if (sig.role === 'hop') payload.chain = sha256Base64Url(canonicalBytes(previous));
  return payload;
}

export function signManifest(input: SignManifestInput): MessageSignature {
  const { manifestDigest, previous, role, created } = input;
  const unsigned = { role, domain: input.domain, key_id: input.keyId, alg: 'ed25519' as const, created };
  const payload = signedPayload(manifestDigest, unsigned, previous);
  return { ...unsigned, sig: signStatement('pmtp1/message-signature', payload, input.privateKey) };
}

/** valid, or why not: bad syntax, wrong position, unknown key, bad signature, created in the future or too long ago. */
export type SignatureStatus = 'valid' | 'malformed' | 'misplaced' | 'unknown_key' | 'invalid' | 'future' | 'stale';

/**
 * Oldest `created` accepted, seconds before now (§6.3): as long as the longest notice lifetime, so a
 * key compromised today cannot sign mail that passes for older than any notice still alive.
 */
export const MAX_SIGNATURE_AGE_S = 30 * 24 * 3600;

export interface SignatureCheck {
  index: number;
  status: SignatureStatus;
  role?: SignatureRole;
  domain?: string;
  keyId?: string;
}

export interface SignaturesVerdict {
  /** True when every signature is valid and they form one origin, then authors, then hops. */
  ok: boolean;
  origin?: string;
  /** The domain entitled to serve the message: the last hop, else the origin. */
  servingDomain?: string;
  checks: SignatureCheck[];
}

export interface VerifySignaturesInput {
  manifestDigest: string;
  signatures: unknown;
  keyLookup: KeyLookup;
  now: number;
  /** Allowed clock difference for `created`, seconds (default 300). */
  maxSkewS?: number;
  /** Oldest accepted `created`, seconds before `now` (default MAX_SIGNATURE_AGE_S). */
  maxAgeS?: number;
}

/** Structural place of each signature: non-hops first with exactly one origin, then hops. */
function placement(sigs: ReadonlyArray<MessageSignature | undefined>): boolean[] {
  let seenHop = false;
  let origins = 0;
  const seen = new Set<string>();
  return sigs.map((sig) => {
    if (!sig) return false;
    if (sig.role === 'hop') {
      seenHop = true;
      return true;
    }
    const key = `${sig.role} ${sig.domain}`;
    const fine = !seenHop && !seen.has(key) && (sig.role !== 'origin' || origins === 0);
    if (sig.role === 'origin') origins++;
    seen.add(key);
    return fine;
  });
}

async function checkOne(
  input: VerifySignaturesInput,
  raw: readonly unknown[],
  index: number,
  sig: MessageSignature,
): Promise<SignatureStatus> {
  if (sig.created > input.now + (input.maxSkewS ?? 300)) return 'future';
  if (sig.created < input.now - (input.maxAgeS ?? MAX_SIGNATURE_AGE_S)) return 'stale';
  const key = await input.keyLookup(sig.domain, sig.key_id, sig.created);
  if (key === undefined) return 'unknown_key';
  const { sig: signature, ...unsigned } = sig;
  let payload: Record<string, unknown>;
  try {
    payload = signedPayload(input.manifestDigest, unsigned, raw.slice(0, index));
  } catch {
    return 'invalid'; // an earlier entry is not even canonical JSON, so no chain can cover it
  }
  return verifyStatement('pmtp1/message-signature', payload, signature, key) ? 'valid' : 'invalid';
}

/** Checks every signature; never throws. Bad entries are reported one by one, not fatal. */
export async function verifyManifestSignatures(input: VerifySignaturesInput): Promise<SignaturesVerdict> {
  const raw = Array.isArray(input.signatures) ? (input.signatures as unknown[]) : [];
  const sigs = raw.map((entry) => {
    const parsed = messageSignatureSchema.safeParse(entry);
    return parsed.success ? parsed.data : undefined;
  });
  const placed = placement(sigs);
  const checks: SignatureCheck[] = [];
  for (const [index, sig] of sigs.entries()) {
    if (!sig) {
      checks.push({ index, status: 'malformed' });
      continue;
    }
    const status = placed[index] ? await checkOne(input, raw, index, sig) : 'misplaced';
    checks.push({ index, status, role: sig.role, domain: sig.domain, keyId: sig.key_id });
  }
  const present = sigs.filter((s): s is MessageSignature => s !== undefined);
  const origin = present.find((s) => s.role === 'origin')?.domain;
  const lastHop = present.filter((s) => s.role === 'hop').at(-1)?.domain;
  const ok = origin !== undefined && checks.every((c) => c.status === 'valid');
  return { ok, checks, ...(origin ? { origin, servingDomain: lastHop ?? origin } : {}) };
}

/**
 * Whether `originDomain` may originate this manifest: it must be the `from` domain, or, for mail
 * that arrived by SMTP, the gateway named in the provenance.
 */
export function originAligned(manifest: Manifest, originDomain: string): boolean {
  return domainOf(manifest.from) === originDomain || manifest.provenance?.gateway === originDomain;
}
