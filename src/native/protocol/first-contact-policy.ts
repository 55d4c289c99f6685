// First-contact policy: decides accept, challenge or reject for one sender and one recipient, and
// the trust class an accepted message carries. Pure: allowlist membership, token and proof-of-work
// checks are done by the caller and passed in as facts.
import { z } from 'zod';
import { parseAddress, sameAddress } from './address.js';
import { address, domain } from './protocol-fields.js';

const listSchema = z.object({
  addresses: z.array(address).default([]),
  domains: z.array(domain).default([]),
});
const DEFAULTS = ['allow', 'challenge', 'deny'] as const;

export const firstContactPolicySchema = z.object({
  default: z.enum(DEFAULTS),
  allow: listSchema.default({ addresses: [], domains: [] }),
  deny: listSchema.default({ addresses: [], domains: [] }),
  /** Per-recipient overrides: their default replaces the global one, their lists add to the global ones. */
  users: z
    .array(
      z.object({
        address,
        default: z.enum(DEFAULTS).optional(),
        allow: listSchema.optional(),
        deny: listSchema.optional(),
      }),
    )
    .default([]),
});
export type FirstContactPolicy = z.infer<typeof firstContactPolicySchema>;
type SenderList = z.infer<typeof listSchema>;

export const TRUST_CLASSES = ['allowlisted', 'token', 'challenged', 'new-verified'] as const;
export type TrustClass = (typeof TRUST_CLASSES)[number];

export type FirstContactDecision =
  | { decision: 'accept'; trust: TrustClass }
  | { decision: 'challenge'; reason: 'first_contact' | 'unauthenticated_sender' }
  | { decision: 'reject'; code: 'sender_denied' | 'first_contact_denied' };

export interface FirstContactInput {
  policy: FirstContactPolicy;
  recipient: string;
  sender: string;
  /**
   * The sender address is proven: an aligned, valid origin signature, or for SMTP-born mail a DMARC
   * pass for its domain. Unproven senders never benefit from allowlists or tokens (they are forgeable).
   */
  senderAuthenticated: boolean;
  /** The recipient's own contacts, kept by the server, include the sender. */
  onRecipientAllowlist: boolean;
  /** Result of verifySenderToken for this sender and recipient, if a token was presented. */
  token?: { ok: boolean };
  /** Result of verifySolution for this notice and recipient, if a solution was presented. */
  challenge?: { ok: boolean };
}

function listed(list: SenderList, sender: string): boolean {
  const senderDomain = parseAddress(sender)?.domain;
  if (list.addresses.some((a) => sameAddress(a, sender))) return true;
  return senderDomain !== undefined && list.domains.includes(senderDomain);
}

/**
 * Order: deny lists win over everything; then allowlists and tokens (authenticated senders only);
 * then a default of deny rejects; then a solved challenge accepts; then a default of allow accepts
 * authenticated senders; everyone else is challenged.
 */
export function decideFirstContact(input: FirstContactInput): FirstContactDecision {
  const { policy, sender, senderAuthenticated } = input;
  const user = policy.users.find((u) => sameAddress(u.address, input.recipient));
  const lists = (pick: (p: { allow?: SenderList; deny?: SenderList }) => SenderList | undefined) =>
    [pick(policy), user ? pick(user) : undefined].filter((l): l is SenderList => l !== undefined);
  if (lists((p) => p.deny).some((l) => listed(l, sender))) return { decision: 'reject', code: 'sender_denied' };
  if (senderAuthenticated) {
    if (input.onRecipientAllowlist || lists((p) => p.allow).some((l) => listed(l, sender))) {
      return { decision: 'accept', trust: 'allowlisted' };
    }
    if (input.token?.ok) return { decision: 'accept', trust: 'token' };
  }
  const fallback = user?.default ?? policy.default;
  if (fallback === 'deny') return { decision: 'reject', code: 'first_contact_denied' };
  if (input.challenge?.ok) return { decision: 'accept', trust: 'challenged' };
  if (fallback === 'allow' && senderAuthenticated) return { decision: 'accept', trust: 'new-verified' };
  return { decision: 'challenge', reason: senderAuthenticated ? 'first_contact' : 'unauthenticated_sender' };
}
