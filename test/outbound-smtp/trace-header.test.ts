// The Received and Authentication-Results lines the gateway adds.
import { describe, expect, it } from 'vitest';
import { pmtpAuthenticationResults, receivedHeader, rfc5322Date } from '../../src/outbound-smtp/trace-header.js';

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
    expect(receivedHeader({ by: 'gw', queueId: 'Q1', protocol: 'ESMTP', date, recipient: 'a\r\nX-Evil: 1@x' })).not.toContain('Evil');
    expect(() => receivedHeader({ by: 'gw\r\nX-Evil: 1', queueId: 'Q1', protocol: 'ESMTP', date })).toThrow(/unsafe/);
  });
});

describe('pmtpAuthenticationResults', () => {
  it('builds the pmtp method line', () => {
    expect(pmtpAuthenticationResults({ authservId: 'gw.example.org', result: 'pass', domain: 'Example.COM', trust: 'allowlisted' })).toBe(
      'Authentication-Results: gw.example.org;\r\n\tpmtp=pass header.d=example.com policy.trust=allowlisted\r\n',
    );
  });

  it('refuses values that could smuggle a header', () => {
    expect(() => pmtpAuthenticationResults({ authservId: 'gw', result: 'pass', domain: 'x.test\r\nBcc: a@b', trust: 'known' })).toThrow();
    expect(() => pmtpAuthenticationResults({ authservId: 'gw', result: 'pass', domain: 'x.test', trust: 'a; dkim=pass' })).toThrow();
  });
});

describe('rfc5322Date', () => {
  it('writes UTC with a numeric zone', () => {
    expect(rfc5322Date(new Date(Date.UTC(2025, 11, 31, 23, 59, 59)))).toBe('Wed, 31 Dec 2025 23:59:59 +0000');
  });
});
