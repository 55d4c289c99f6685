// The trace lines the gateway writes: Received for PMTP-born and for SMTP-born mail (Postfix-like
// shape, recipient only when single, a hostile HELO made harmless, the XFORWARD peer named only
// when it differs from the judged client), and Authentication-Results with pmtp=.
import { describe, expect, it } from 'vitest';
import {
  inboundReceived,
  pmtpAuthenticationResults,
  pmtpTrustField,
  receivedHeader,
  rfc5322Date,
} from '../../src/mail/trace-fields.js';

const date = new Date(Date.UTC(2024, 0, 2, 3, 4, 5));

describe('receivedHeader', () => {
  it('names our host, the protocol, the queue id and the date', () => {
    expect(receivedHeader({ by: 'gw.example.org', queueId: '0123456789BCDFGHJK', protocol: 'PMTP', date })).toBe(
      'Received: by gw.example.org (mailbridge) with PMTP id 0123456789BCDFGHJK;\r\n\tTue, 02 Jan 2024 03:04:05 +0000\r\n',
    );
  });

  it('names a single recipient, and leaves out "with" for mail we wrote ourselves', () => {
    expect(receivedHeader({ by: 'gw.example.org', queueId: 'Q1', date, recipient: 'bob@example.net' })).toBe(
      'Received: by gw.example.org (mailbridge) id Q1\r\n\tfor <bob@example.net>;\r\n\tTue, 02 Jan 2024 03:04:05 +0000\r\n',
    );
  });

  it('leaves out a recipient that would break the line, and refuses an unsafe host name', () => {
    expect(
      receivedHeader({ by: 'gw', queueId: 'Q1', protocol: 'ESMTP', date, recipient: 'a\r\nX-Evil: 1@x' }),
    ).not.toContain('Evil');
    expect(() => receivedHeader({ by: 'gw\r\nX-Evil: 1', queueId: 'Q1', protocol: 'ESMTP', date })).toThrow(/unsafe/);
  });
});

describe('pmtpAuthenticationResults', () => {
  it('builds the pmtp method line', () => {
    expect(
      pmtpAuthenticationResults({
        authservId: 'gw.example.org',
        result: 'pass',
        domain: 'Example.COM',
        trust: 'allowlisted',
        author: 'aligned',
      }),
    ).toBe(
      'Authentication-Results: gw.example.org;\r\n\tpmtp=pass header.d=example.com policy.trust=allowlisted policy.author=aligned\r\n',
    );
  });

  const provenance = {
    gateway: 'a.example',
    spf: { result: 'pass', domain: 'lists.example' },
    dkim: [
      { result: 'pass', domain: 'c.example', selector: 's1' },
      { result: 'pass', domain: 'evil\r\nBcc: x', selector: 's2' },
    ],
    dmarc: { result: 'pass', domain: 'c.example' },
  };

  it("repeats a trusted gateway's verdicts as its, and only names an untrusted one", () => {
    const base = { authservId: 'gw', result: 'pass' as const, domain: 'a.example', trust: 'challenged' };
    expect(
      pmtpAuthenticationResults({ ...base, author: 'aligned', provenance: { ...provenance, trusted: true } }),
    ).toBe(
      [
        'Authentication-Results: gw;',
        '\tpmtp=pass header.d=a.example policy.trust=challenged policy.author=aligned;',
        '\tdmarc=pass header.from=c.example (provenance of a.example);',
        '\tspf=pass smtp.mailfrom=lists.example (provenance of a.example);',
        '\tdkim=pass header.d=c.example header.s=s1 (provenance of a.example)\r\n',
      ].join('\r\n'),
    );
    expect(
      pmtpAuthenticationResults({ ...base, author: 'vouched', provenance: { ...provenance, trusted: false } }),
    ).toBe(
      'Authentication-Results: gw;\r\n\tpmtp=pass header.d=a.example policy.trust=challenged policy.author=vouched (provenance of a.example not trusted)\r\n',
    );
  });

  it('refuses values that could smuggle a header', () => {
    expect(() =>
      pmtpAuthenticationResults({
        authservId: 'gw',
        result: 'pass',
        domain: 'x.test\r\nBcc: a@b',
        trust: 'known',
        author: 'aligned',
      }),
    ).toThrow();
    expect(() =>
      pmtpAuthenticationResults({
        authservId: 'gw',
        result: 'pass',
        domain: 'x.test',
        trust: 'a; dkim=pass',
        author: 'aligned',
      }),
    ).toThrow();
  });
});

describe('pmtpTrustField', () => {
  it('names the trust class, the author standing and the origin', () => {
    expect(pmtpTrustField({ trust: 'token', author: 'vouched', origin: 'A.example' })).toBe(
      'PMTP-Trust: token; author=vouched; origin=a.example\r\n',
    );
    expect(pmtpTrustField({ trust: 'smtp' })).toBe('PMTP-Trust: smtp\r\n');
    expect(() => pmtpTrustField({ trust: 'smtp\r\nBcc: x' })).toThrow();
  });
});

describe('rfc5322Date', () => {
  it('writes UTC with a numeric zone', () => {
    expect(rfc5322Date(new Date(Date.UTC(2025, 11, 31, 23, 59, 59)))).toBe('Wed, 31 Dec 2025 23:59:59 +0000');
  });
});

const base = {
  by: 'mx.gw.test',
  queueId: '0123456789BCDFGHJK',
  helo: 'client.test',
  ip: '192.0.2.7',
  peer: '192.0.2.7',
  protocol: 'ESMTPS',
  recipients: ['user@native.test'],
  date,
};

describe('inboundReceived', () => {
  it('names client, our host, protocol, queue id, the single recipient and the date', () => {
    expect(inboundReceived(base)).toBe(
      'Received: from client.test ([192.0.2.7])\r\n\tby mx.gw.test (mailbridge) with ESMTPS id 0123456789BCDFGHJK\r\n\tfor <user@native.test>;\r\n\tTue, 02 Jan 2024 03:04:05 +0000\r\n',
    );
  });

  it('leaves the recipients out when there are several, or when one would need quoting', () => {
    expect(inboundReceived({ ...base, recipients: ['a@x.test', 'b@x.test'] })).not.toContain('for <');
    expect(inboundReceived({ ...base, recipients: ['"a b"@x.test'] })).not.toContain('for <');
  });

  it('makes a hostile HELO harmless and says unknown for an empty one', () => {
    const field = inboundReceived({ ...base, helo: 'evil\r\nBcc: x@y (z); [a]' });
    expect(field.split('\r\n')[0]).toBe('Received: from evil??Bcc:?x@y??z????a? ([192.0.2.7])');
    expect(inboundReceived({ ...base, helo: '' })).toMatch(/^Received: from unknown \(\[192\.0\.2\.7\]\)/);
  });

  it('names the relaying peer under XFORWARD and strips IPv6/mapped prefixes', () => {
    const field = inboundReceived({ ...base, ip: 'IPv6:2001:db8::1', peer: '::ffff:127.0.0.2' });
    expect(field).toMatch(/^Received: from client\.test \(\[2001:db8::1\]\) \(via \[127\.0\.0\.2\]\)\r\n/);
  });

  it('falls back to SMTP for an unknown protocol word and is always one well-formed field', () => {
    const field = inboundReceived({ ...base, protocol: 'X;Y' });
    expect(field).toContain(' with SMTP id ');
    expect(field).toMatch(/^Received:[^\r\n]*\r\n(?:\t[^\r\n]*\r\n)+$/);
    expect(rfc5322Date(date)).toBe('Tue, 02 Jan 2024 03:04:05 +0000');
  });
});
