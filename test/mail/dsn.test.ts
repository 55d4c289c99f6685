// DSNs: only to an authenticated sender, never backscatter; the RFC 3464 report is well-formed.
import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { composeDsn, dsnRecipient } from '../../src/mail/dsn.js';
import { dsnRecord, pulledForPostfixRecord, smtpRecord } from '../support/records.js';

describe('dsnRecipient', () => {
  const envelope = { mailFrom: 'victim@example.org', rcptTo: ['x@elsewhere.example'] };
  const smtp = (role: 'mx' | 'submission' | 'relay-in', user: string | null) => ({
    ...smtpRecord({ role, user, envelope }),
    queueId: 'Q',
  });

  it('names nobody for mail that came in on the MX listener, whatever the envelope says', () => {
    expect(dsnRecipient(smtp('mx', null))).toBeUndefined();
    expect(dsnRecipient(smtp('mx', 'alice@example.org'))).toBeUndefined();
    expect(dsnRecipient({ ...pulledForPostfixRecord(envelope), queueId: 'Q' })).toBeUndefined();
    expect(dsnRecipient({ ...dsnRecord('victim@example.org'), queueId: 'Q' })).toBeUndefined();
  });

  it('names the authenticated account on submission and relay-in, and only that', () => {
    expect(dsnRecipient(smtp('submission', 'alice@example.org'))).toBe('alice@example.org');
    expect(dsnRecipient(smtp('relay-in', 'relay@example.org'))).toBe('relay@example.org');
    expect(dsnRecipient(smtp('submission', null))).toBeUndefined();
    expect(dsnRecipient(smtp('submission', 'alice'))).toBeUndefined();
  });
});

describe('composeDsn', () => {
  const bytes = composeDsn({
    reportingMta: 'gw.example.org',
    to: 'alice@example.org',
    queueId: '0123456789BCDFGHJK',
    arrivalDate: new Date(Date.UTC(2024, 0, 1)),
    date: new Date(Date.UTC(2024, 0, 2)),
    failed: [
      {
        recipient: 'bob@example.net',
        status: '5.1.1',
        diagnostic: '550 5.1.1 <bob@example.net>:\r\n Recipient address rejected',
        remoteMta: '127.0.0.1:25',
      },
    ],
    originalHeaders: 'From: alice@example.org\r\nTo: bob@example.net\r\nSubject: hello\r\n\r\n',
    boundary: 'BOUNDARY',
  });
  const text = bytes.toString('utf8');

  it('is a multipart/report of type delivery-status with the three parts', async () => {
    const parsed = await simpleParser(bytes);
    expect(parsed.headers.get('content-type')).toMatchObject({
      value: 'multipart/report',
      params: { 'report-type': 'delivery-status', boundary: 'BOUNDARY' },
    });
    expect(parsed.to).toMatchObject({ value: [{ address: 'alice@example.org' }] });
    expect(parsed.headers.get('auto-submitted')).toBe('auto-replied');
    expect(text).toContain('--BOUNDARY\r\nContent-Type: message/delivery-status\r\n');
    expect(text).toContain(
      '--BOUNDARY\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: alice@example.org\r\nTo: bob@example.net\r\nSubject: hello\r\n',
    );
    expect(text.endsWith('--BOUNDARY--\r\n')).toBe(true);
  });

  it('carries per-message and per-recipient fields, the remote reply on one line', () => {
    expect(text).toContain('Reporting-MTA: dns; gw.example.org\r\n');
    expect(text).toContain('Arrival-Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n');
    expect(text).toContain(
      'Final-Recipient: rfc822; bob@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; 127.0.0.1:25\r\nDiagnostic-Code: smtp; 550 5.1.1 <bob@example.net>: Recipient address rejected',
    );
  });
});
