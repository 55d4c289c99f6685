// The inbound Received field, pure: Postfix-like shape, recipient only when single, a hostile
// HELO made harmless, the XFORWARD peer named only when it differs from the judged client.
import { describe, expect, it } from 'vitest';
import { inboundReceived, rfc5322Date } from '../../src/inbound-smtp/received-header.js';

const date = new Date(Date.UTC(2024, 0, 2, 3, 4, 5));
const base = { by: 'mx.gw.test', queueId: '0123456789BCDFGHJK', helo: 'client.test', ip: '192.0.2.7', peer: '192.0.2.7', protocol: 'ESMTPS', recipients: ['user@native.test'], date };

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
