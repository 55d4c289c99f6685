// Address forms and RCPT routing, pure: every relay trick is refused; local domains are found
// whatever their case, trailing dot or IDN spelling; unknown users get 550 5.1.1.
import { describe, expect, it } from 'vitest';
import { clientList } from '../../src/inbound-smtp/client-access.js';
import { DataRateGuard } from '../../src/inbound-smtp/data-rate-guard.js';
import { speaksPmtp } from '../../src/inbound-smtp/pmtp-discovery.js';
import { decideRecipient, type ListenerRole, routingTable } from '../../src/inbound-smtp/recipient-routing.js';
import { asciiDomain, checkRecipient, checkSender } from '../../src/mail/address-syntax.js';
import { testConfig } from '../support/config.js';

const config = testConfig({
  spool: { dir: '/tmp/unused' },
  domains: {
    mailbox: ['native.test', 'xn--bcher-kva.test'],
    postfix: { 'corp.test': { host: '127.0.0.1', port: 2525 } },
    recipients: { 'corp.test': ['alice', 'Bob@corp.test'] },
  },
  pmtp: { directory: { 'friend.test': { endpoint: 'https://pmtp.friend.test/' } } },
});
const table = routingTable(config);

function decide(address: string, role: ListenerRole = 'mx', authenticated = false): string {
  const parsed = checkRecipient(address, table.postmasterDomain);
  if (!parsed.ok) return `reject ${parsed.code}`;
  const d = decideRecipient(parsed.address, table, role, authenticated);
  return d.kind === 'accept'
    ? `accept ${d.route.kind} ${d.route.domain}`
    : d.kind === 'remote'
      ? `remote ${d.domain}`
      : `reject ${d.code}`;
}

describe('recipient routing', () => {
  it('routes mailbox and postfix domains, ignoring case, a trailing dot and the IDN spelling', () => {
    expect(decide('user@native.test')).toBe('accept mailbox native.test');
    expect(decide('User@NATIVE.Test.')).toBe('accept mailbox native.test');
    expect(decide('anna@bücher.test')).toBe('accept mailbox xn--bcher-kva.test');
    expect(decide('anna@XN--BCHER-KVA.test')).toBe('accept mailbox xn--bcher-kva.test');
    expect(decide('alice@corp.test')).toBe('accept postfix corp.test');
    expect(decide('BOB@Corp.Test')).toBe('accept postfix corp.test');
  });

  it('rejects unknown users of a listed domain with 550 5.1.1 but always takes postmaster', () => {
    expect(decide('mallory@corp.test')).toBe('reject unknown_user');
    expect(decide('postmaster@corp.test')).toBe('accept postfix corp.test');
    expect(decide('postmaster')).toBe('accept mailbox native.test');
  });

  const relayForms = [
    'victim%evil.test@native.test',
    'evil.test!victim@native.test',
    '"victim@evil.test"@native.test',
    'victim@[192.0.2.1]',
    'victim@[IPv6:2001:db8::1]',
    'victim@evil.test',
    'VICTIM@EVIL.TEST.',
    'victim@friend.test',
  ];
  for (const form of relayForms) {
    it(`refuses the relay form ${form} on mx`, () => {
      expect(decide(form, 'mx')).toMatch(/^reject (relay_denied|bad_address)$/);
    });
  }

  it('refuses routing tricks on every role, even when logged in', () => {
    for (const role of ['submission', 'relay-in'] as const) {
      expect(decide('victim%evil.test@native.test', role, true)).toBe('reject relay_denied');
      expect(decide('victim@[192.0.2.1]', role, true)).toBe('reject relay_denied');
    }
  });

  it('lets authenticated submission and relay-in leave; the directory names PMTP domains', () => {
    expect(decide('someone@elsewhere.test', 'submission', false)).toBe('reject auth_required');
    expect(decide('someone@elsewhere.test', 'submission', true)).toBe('remote elsewhere.test');
    expect(decide('someone@elsewhere.test', 'relay-in')).toBe('remote elsewhere.test');
    expect(decide('someone@friend.test', 'relay-in')).toBe('accept pmtp friend.test');
  });

  it('normalises senders but keeps the null sender', () => {
    expect(checkSender('')).toEqual({ ok: true, address: null });
    expect(checkSender('A@Bücher.Test')).toMatchObject({ ok: true, address: { address: 'A@xn--bcher-kva.test' } });
    expect(asciiDomain('a..b')).toBe('');
    expect(asciiDomain('-bad.test')).toBe('');
  });
});

describe('clientList', () => {
  it('matches single addresses and CIDR blocks, IPv4 (also mapped) and IPv6', () => {
    const list = clientList(['198.51.100.7', '203.0.113.0/24', '2001:db8::/32', '127.0.0.1']);
    expect(list.has('198.51.100.7')).toBe(true);
    expect(list.has('198.51.100.8')).toBe(false);
    expect(list.has('203.0.113.200')).toBe(true);
    expect(list.has('::ffff:203.0.113.9')).toBe(true);
    expect(list.has('2001:db8:1::5')).toBe(true);
    expect(list.has('2001:db9::5')).toBe(false);
    expect(list.has('not-an-ip')).toBe(false);
  });

  it('refuses entries that are not addresses, naming them', () => {
    expect(() => clientList(['mail.example.test'])).toThrow(/"mail\.example\.test"/);
    expect(() => clientList(['192.0.2.0/33'])).toThrow(/192\.0\.2\.0\/33/);
  });
});

describe('DataRateGuard', () => {
  it('tolerates anything during the grace period, then demands the minimum rate', () => {
    let now = 0;
    const guard = new DataRateGuard(100, 1000, () => now);
    now = 900;
    expect(guard.tooSlow()).toBe(false);
    now = 3000; // 2 s past grace: needs 200 bytes
    guard.record(150);
    expect(guard.tooSlow()).toBe(true);
    guard.record(60);
    expect(guard.tooSlow()).toBe(false);
    expect(new DataRateGuard(0, 0, () => now).tooSlow()).toBe(false);
  });
});

describe('speaksPmtp', () => {
  const answering = (answer: string[][] | string) => ({
    resolveTxt: async (): Promise<string[][]> => {
      if (typeof answer === 'string') throw Object.assign(new Error(answer), { code: answer });
      return answer;
    },
  });

  it('finds the v=PMTP1 discovery record, also split over several strings', async () => {
    expect(await speaksPmtp(answering([['v=spf1 -all'], ['v=PM', 'TP1; endpoint=https://x.test/']]), 'x.test')).toBe(
      true,
    );
    expect(await speaksPmtp(answering([['v=PMTP10']]), 'x.test')).toBe(false);
  });

  it('reads "no such record" as plain SMTP and a DNS failure as 451 4.4.3', async () => {
    expect(await speaksPmtp(answering('ENOTFOUND'), 'x.test')).toBe(false);
    expect(await speaksPmtp(answering('ENODATA'), 'x.test')).toBe(false);
    await expect(speaksPmtp(answering('ESERVFAIL'), 'x.test')).rejects.toMatchObject({ code: 'route_lookup_failed' });
  });
});
