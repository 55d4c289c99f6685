// The submission sender policy as a pure function: own address by default, listed addresses and
// domains, "<>" and "*" only when granted; domains compare case-insensitively, local parts exactly.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SenderGrants } from '../../src/mail/sender-grants.js';

describe('SenderGrants', () => {
  const grants = new SenderGrants([
    { user: 'alice@Native.test' },
    { user: 'ops', senders: ['@corp.test', 'Noreply@Bücher.test', '<>'] },
    { user: 'relay@native.test', senders: ['*'] },
  ]);

  it('allows an address login its own address, the domain in any case, the local part exactly', () => {
    expect(grants.allows('alice@native.test', 'alice@native.test')).toBe(true);
    expect(grants.allows('ALICE@native.test', 'alice@NATIVE.TEST')).toBe(true);
    expect(grants.allows('alice@native.test', 'Alice@native.test')).toBe(false);
    expect(grants.allows('alice@native.test', 'bob@native.test')).toBe(false);
    expect(grants.allows('alice@native.test', '')).toBe(false);
    expect(grants.binds('alice@native.test', 'alice@native.test')).toBe(true);
  });

  it('grants a whole domain with @domain, and an IDN address in either form', () => {
    expect(grants.allows('ops', 'anyone@CORP.test')).toBe(true);
    expect(grants.allows('ops', 'anyone@sub.corp.test')).toBe(false);
    expect(grants.allows('ops', 'Noreply@xn--bcher-kva.test')).toBe(true);
    expect(grants.allows('ops', 'Noreply@bücher.test')).toBe(true);
    expect(grants.allows('ops', 'noreply@bücher.test')).toBe(false);
    // a user name that is no address owns no address by itself
    expect(grants.allows('ops', 'ops@corp.test')).toBe(true);
    expect(grants.allows('ops', 'ops')).toBe(false);
  });

  it('allows the null sender only when granted, and never in a header', () => {
    expect(grants.allows('ops', '')).toBe(true);
    expect(grants.allowsInHeader('ops', '')).toBe(false);
    expect(grants.binds('ops', '')).toBe(false);
  });

  it('"*" allows any sender but binds none', () => {
    expect(grants.allows('relay@native.test', 'ceo@elsewhere.test')).toBe(true);
    expect(grants.allows('relay@native.test', '')).toBe(true);
    expect(grants.allowsInHeader('relay@native.test', 'ceo@elsewhere.test')).toBe(true);
    expect(grants.binds('relay@native.test', 'ceo@elsewhere.test')).toBe(false);
    expect(grants.binds('relay@native.test', 'relay@native.test')).toBe(true);
  });

  it('allows nothing to an unknown login', () => {
    expect(grants.allows('mallory@native.test', 'mallory@native.test')).toBe(false);
    expect(grants.allows('', '')).toBe(false);
  });

  it('never allows an address that is neither listed nor in a listed domain', () => {
    const label = fc.stringMatching(/^[a-z0-9]{1,8}$/);
    const domain = fc.tuple(label, fc.constantFrom('test', 'org', 'example')).map(([a, b]) => `${a}.${b}`);
    const local = fc.stringMatching(/^[A-Za-z0-9._+-]{1,10}$/);
    const address = fc.tuple(local, domain).map(([l, d]) => `${l}@${d}`);
    const entry = fc.oneof(
      address,
      domain.map((d) => `@${d}`),
      fc.constant('<>'),
    );
    fc.assert(
      fc.property(address, fc.array(entry, { maxLength: 6 }), address, fc.boolean(), (user, senders, sender, upper) => {
        const listed = [user, ...senders];
        const at = sender.lastIndexOf('@');
        const senderDomain = sender.slice(at + 1);
        fc.pre(!listed.includes(sender) && !listed.includes(`@${senderDomain}`));
        const asked = upper ? `${sender.slice(0, at)}@${senderDomain.toUpperCase()}` : sender;
        const g = new SenderGrants([{ user, senders }]);
        expect(g.allows(user, asked)).toBe(false);
        expect(g.allowsInHeader(user, asked)).toBe(false);
        expect(g.binds(user, asked)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });
});
