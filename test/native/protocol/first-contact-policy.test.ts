import { describe, expect, it } from 'vitest';
import {
  decideFirstContact,
  type FirstContactInput,
  firstContactPolicySchema,
} from '../../../src/native/protocol/first-contact-policy.js';

const policy = firstContactPolicySchema.parse({
  default: 'challenge',
  allow: { domains: ['partner.example'] },
  deny: { addresses: ['spam@bad.example'], domains: ['worse.example'] },
  users: [
    { address: 'bob@b.example', default: 'allow', allow: { addresses: ['mum@home.example'] } },
    { address: 'ceo@b.example', default: 'deny', deny: { domains: ['partner.example'] } },
  ],
});

const input = (changes: Partial<FirstContactInput>): FirstContactInput => ({
  policy,
  recipient: 'alice@b.example',
  sender: 'someone@new.example',
  senderAuthenticated: true,
  onRecipientAllowlist: false,
  ...changes,
});

describe('first-contact policy', () => {
  it.each<[string, Partial<FirstContactInput>, unknown]>([
    ['new sender under default challenge', {}, { decision: 'challenge', reason: 'first_contact' }],
    ['recipient contact', { onRecipientAllowlist: true }, { decision: 'accept', trust: 'allowlisted' }],
    ['allowlisted domain', { sender: 'x@partner.example' }, { decision: 'accept', trust: 'allowlisted' }],
    ['valid token', { token: { ok: true } }, { decision: 'accept', trust: 'token' }],
    ['invalid token', { token: { ok: false } }, { decision: 'challenge', reason: 'first_contact' }],
    ['solved challenge', { challenge: { ok: true } }, { decision: 'accept', trust: 'challenged' }],
    ['failed challenge', { challenge: { ok: false } }, { decision: 'challenge', reason: 'first_contact' }],
    [
      'denied address, even if a contact',
      { sender: 'spam@bad.example', onRecipientAllowlist: true },
      { decision: 'reject', code: 'sender_denied' },
    ],
    [
      'denied domain, even with a token',
      { sender: 'a@worse.example', token: { ok: true } },
      { decision: 'reject', code: 'sender_denied' },
    ],
    ['user default allow', { recipient: 'bob@b.example' }, { decision: 'accept', trust: 'new-verified' }],
    [
      'user allowlist',
      { recipient: 'bob@b.example', sender: 'mum@home.example' },
      { decision: 'accept', trust: 'allowlisted' },
    ],
    ['user allowlist is per user', { sender: 'mum@home.example' }, { decision: 'challenge', reason: 'first_contact' }],
    [
      'user deny beats global allow',
      { recipient: 'ceo@b.example', sender: 'x@partner.example' },
      { decision: 'reject', code: 'sender_denied' },
    ],
    [
      'user default deny ignores challenges',
      { recipient: 'ceo@b.example', challenge: { ok: true } },
      { decision: 'reject', code: 'first_contact_denied' },
    ],
    [
      'user default deny still takes tokens',
      { recipient: 'ceo@b.example', token: { ok: true } },
      { decision: 'accept', trust: 'token' },
    ],
    [
      'unauthenticated contact is not trusted',
      { senderAuthenticated: false, onRecipientAllowlist: true },
      { decision: 'challenge', reason: 'unauthenticated_sender' },
    ],
    [
      'unauthenticated token is not trusted',
      { senderAuthenticated: false, token: { ok: true } },
      { decision: 'challenge', reason: 'unauthenticated_sender' },
    ],
    [
      'unauthenticated under default allow',
      { senderAuthenticated: false, recipient: 'bob@b.example' },
      { decision: 'challenge', reason: 'unauthenticated_sender' },
    ],
    [
      'unauthenticated but solved',
      { senderAuthenticated: false, challenge: { ok: true } },
      { decision: 'accept', trust: 'challenged' },
    ],
    ['recipient domain case', { recipient: 'bob@B.EXAMPLE' }, { decision: 'accept', trust: 'new-verified' }],
  ])('%s', (_, changes, expected) => {
    expect(decideFirstContact(input(changes))).toEqual(expected);
  });

  it('validates policy documents', () => {
    expect(firstContactPolicySchema.safeParse({ default: 'maybe' }).success).toBe(false);
    expect(firstContactPolicySchema.safeParse({ default: 'deny', allow: { domains: ['Bad Domain'] } }).success).toBe(
      false,
    );
  });
});
