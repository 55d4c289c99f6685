// The live policy's recipient lists: case-insensitive local parts, `user@domain` entries, IDN
// domains, postmaster always accepted, unlisted domains open; apply() replaces the whole policy.
import { describe, expect, it } from 'vitest';
import { LivePolicy } from '../../src/policy/live-policy.js';

const firstContact = {
  default: 'challenge',
  allow: [],
  deny: [],
  pow_bits: 16,
  challenge_ttl_s: 3600,
  users: [],
} as const;

describe('LivePolicy', () => {
  const policy = new LivePolicy({
    recipients: { 'corp.test': ['alice', 'Bob@corp.test'], 'bücher.test': ['anna'] },
    first_contact: { ...firstContact, allow: [], deny: [], users: [] },
  });

  it('accepts listed users whatever their case, postmaster always, and everyone at an unlisted domain', () => {
    expect(policy.accepts('corp.test', 'ALICE')).toBe(true);
    expect(policy.accepts('CORP.test', 'bob')).toBe(true);
    expect(policy.accepts('corp.test', 'mallory')).toBe(false);
    expect(policy.accepts('corp.test', 'PostMaster')).toBe(true);
    expect(policy.accepts('xn--bcher-kva.test', 'anna')).toBe(true);
    expect(policy.accepts('bücher.test', 'otto')).toBe(false);
    expect(policy.accepts('open.test', 'anyone')).toBe(true);
  });

  it('apply() swaps recipient lists and first-contact rules together', () => {
    const live = new LivePolicy({
      recipients: { 'corp.test': ['alice'] },
      first_contact: { ...firstContact, allow: [], deny: [], users: [] },
    });
    live.apply({
      recipients: {},
      first_contact: { ...firstContact, default: 'deny', allow: ['friend.test'], deny: [], users: [] },
    });
    expect(live.accepts('corp.test', 'mallory')).toBe(true);
    expect(live.firstContact).toMatchObject({ default: 'deny', allow: ['friend.test'] });
  });

  it("apply() with domains.settings swaps each domain's own rules and size limit", () => {
    const rules = { ...firstContact, allow: [], deny: [], users: [] };
    const live = new LivePolicy({ recipients: {}, first_contact: rules, settings: { 'one.test': {} } });
    expect(live.firstContactFor('one.test').default).toBe('challenge');
    expect(live.ownSizeLimit('one.test')).toBeUndefined();
    live.apply({
      recipients: {},
      first_contact: rules,
      settings: { 'One.Test': { first_contact: { ...rules, default: 'deny' }, max_message_bytes: 900 } },
    });
    expect(live.firstContactFor('one.test').default).toBe('deny');
    expect(live.ownSizeLimit('ONE.test')).toBe(900);
    expect(live.firstContactFor('two.test').default).toBe('challenge');
    live.apply({ recipients: {}, first_contact: rules, settings: {} });
    expect(live.ownSizeLimit('one.test')).toBeUndefined();
    expect(live.firstContactFor('one.test').default).toBe('challenge');
  });
});
