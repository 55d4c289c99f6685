// Turns `domains.first_contact` (or the recipient domain's own, domains.settings) into the pure policy and gathers the facts it needs for one
// (sender, recipient): allowlist membership, a sender token (use counted atomically, revocation
// honoured) and a proof-of-work solution (single use). Returns the decision and its side effects.
import { randomBytes } from 'node:crypto';
import type { FirstContactSettings } from '../../policy/live-policy.js';
import type { PmtpContext } from '../pmtp-context.js';
import { domainOf, sameAddress } from '../protocol/address.js';
import {
  decideFirstContact,
  type FirstContactDecision,
  type FirstContactPolicy,
  firstContactPolicySchema,
} from '../protocol/first-contact-policy.js';
import type { Notice } from '../protocol/notice.js';
import { issueChallenge, type PowChallenge, verifySolution } from '../protocol/proof-of-work.js';
import { verifySenderToken } from '../protocol/sender-token.js';

/** The parts of the PMTP context this file uses. */
export type FirstContactDeps = Pick<
  PmtpContext,
  'contacts' | 'directory' | 'metrics' | 'nowS' | 'policy' | 'powSecret' | 'stamps' | 'tokens'
>;

const policies = new WeakMap<object, FirstContactPolicy>();

function split(entries: readonly string[]): { addresses: string[]; domains: string[] } {
  return {
    addresses: entries.filter((e) => e.includes('@')),
    domains: entries.filter((e) => !e.includes('@')).map((d) => d.toLowerCase()),
  };
}

/** Parsed once per settings object: a reload brings a new object, hence a new parse. */
export function policyOf(fc: FirstContactSettings): FirstContactPolicy {
  const hit = policies.get(fc);
  if (hit) return hit;
  const policy = firstContactPolicySchema.parse({
    default: fc.default,
    allow: split(fc.allow),
    deny: split(fc.deny),
    users: fc.users.map((u) => ({
      address: u.address,
      ...(u.default ? { default: u.default } : {}),
      allow: split(u.allow),
      deny: split(u.deny),
    })),
  });
  policies.set(fc, policy);
  return policy;
}

export type Verdict = FirstContactDecision | { decision: 'reject'; code: 'challenge_failed' | 'challenge_spent' };

/** Decides for one recipient; `use` names this (origin, notice, recipient) for single-use counting. */
export async function decideRecipient(
  rt: FirstContactDeps,
  input: { notice: Notice; recipient: string; senderAuthenticated: boolean; use: string },
): Promise<Verdict> {
  const { notice, recipient, senderAuthenticated, use } = input;
  const now = rt.nowS();
  const base = {
    policy: policyOf(rt.policy.firstContactFor(domainOf(recipient))),
    recipient,
    sender: notice.sender,
    senderAuthenticated,
    onRecipientAllowlist: senderAuthenticated && (await rt.contacts.has(recipient, notice.sender)),
  };
  let challenge: { ok: boolean } | undefined;
  for (const entry of notice.pow ?? []) {
    if (!sameAddress(entry.challenge.recipient, recipient)) continue;
    const checked = verifySolution(entry.challenge, entry.solution, {
      secret: rt.powSecret,
      now,
      noticeId: notice.id,
      sender: notice.sender,
      recipient,
    });
    if (!checked.ok) {
      if (checked.code === 'challenge_expired') continue;
      return { decision: 'reject', code: 'challenge_failed' };
    }
    if (!(await rt.stamps.spend(checked.value.stampId, use, checked.value.expires)))
      return { decision: 'reject', code: 'challenge_spent' };
    challenge = { ok: true };
  }
  let token: { id: string; maxUses?: number; expires: number } | undefined;
  for (const t of notice.tokens ?? []) {
    const checked = await verifySenderToken(t, {
      sender: notice.sender,
      recipient,
      now,
      keyLookup: rt.directory.keyLookup,
    });
    if (checked.ok) {
      token = {
        id: checked.value.token_id,
        expires: checked.value.expires,
        ...(checked.value.max_uses ? { maxUses: checked.value.max_uses } : {}),
      };
      break;
    }
  }
  let verdict = decideFirstContact({
    ...base,
    ...(challenge ? { challenge } : {}),
    ...(token ? { token: { ok: true } } : {}),
  });
  if (verdict.decision === 'accept' && verdict.trust === 'token' && token) {
    const used = await rt.tokens.use(token.id, use, token.maxUses, token.expires);
    if (used === 'ok') rt.metrics?.tokenUsed();
    else verdict = decideFirstContact({ ...base, ...(challenge ? { challenge } : {}), token: { ok: false } });
  }
  if (verdict.decision === 'accept' && verdict.trust === 'challenged') await rt.contacts.add(recipient, notice.sender);
  return verdict;
}

export function newChallenge(rt: FirstContactDeps, notice: Notice, recipient: string): PowChallenge {
  const fc = rt.policy.firstContactFor(domainOf(recipient));
  const own = fc.users.find((u) => sameAddress(u.address, recipient))?.pow_bits;
  return issueChallenge({
    bits: Math.max(1, own ?? fc.pow_bits),
    salt: randomBytes(16),
    noticeId: notice.id,
    sender: notice.sender,
    recipient,
    expires: Math.min(rt.nowS() + fc.challenge_ttl_s, notice.expires),
    secret: rt.powSecret,
  });
}
