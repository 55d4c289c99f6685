// DSNs: to whom (never backscatter), as each recipient's NOTIFY asks, and a well-formed RFC 3464
// report: per-recipient Action and Status, ENVID and ORCPT echoed, the original as RET asks.
import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import {
  composeDsn,
  dsnRecipient,
  dsnTarget,
  notifyAllows,
  requestedReports,
  statusForAction,
} from '../../src/mail/dsn.js';
import type { SenderVerdict } from '../../src/mail/spool-records.js';
import { dsnRecord, pulledForPostfixRecord, smtpRecord } from '../support/records.js';

describe('dsnTarget', () => {
  const envelope = { mailFrom: 'victim@example.org', rcptTo: ['x@elsewhere.example'] };
  const smtp = (role: 'mx' | 'submission' | 'relay-in', user: string | null) => ({
    ...smtpRecord({ role, user, envelope }),
    queueId: 'Q',
  });
  const verdict = (spf: string, dmarc: string, fromDomain?: string): SenderVerdict => ({
    action: 'accept',
    reason: '',
    dmarc,
    dmarcOverridden: false,
    spf,
    dkim: [],
    ...(fromDomain ? { fromDomain } : {}),
  });
  const judged = (
    role: 'mx' | 'relay-in',
    v: SenderVerdict | null,
    mailFrom = 'bounces@example.org',
    mode: 'enforce' | 'skip' = 'enforce',
  ) => ({
    ...smtpRecord({ role, envelope: { mailFrom, rcptTo: ['x@elsewhere.example'] } }),
    senderAuth: { mode, verdict: v },
    queueId: 'Q',
  });

  it('names nobody for MX mail whose sender nothing vouched for, and says why', () => {
    expect(dsnRecipient(smtp('mx', null))).toBeUndefined();
    expect(dsnTarget(smtp('mx', null))).toEqual({ withheld: 'sender not checked (sender_auth: skip)' });
    expect(dsnTarget(judged('mx', verdict('fail', 'none')))).toEqual({
      withheld: 'sender not authenticated (SPF fail, DMARC none)',
    });
    expect(dsnTarget(judged('mx', verdict('softfail', 'fail', 'example.org'))).to).toBeUndefined();
    expect(dsnRecipient({ ...pulledForPostfixRecord(envelope), queueId: 'Q' })).toBeUndefined();
    expect(dsnRecipient({ ...dsnRecord('victim@example.org'), queueId: 'Q' })).toBeUndefined();
  });

  it('names the envelope sender of MX and relay-in mail when SPF passed for it', () => {
    expect(dsnTarget(judged('mx', verdict('pass', 'none')))).toEqual({ to: 'bounces@example.org' });
    expect(dsnTarget(judged('relay-in', verdict('pass', 'fail')))).toEqual({ to: 'bounces@example.org' });
  });

  it('names it when DMARC passed for a From domain that is the sender domain or its parent, not another', () => {
    expect(dsnTarget(judged('mx', verdict('fail', 'pass', 'example.org')))).toEqual({ to: 'bounces@example.org' });
    expect(dsnTarget(judged('mx', verdict('none', 'pass', 'example.org'), 'b@lists.example.org'))).toEqual({
      to: 'b@lists.example.org',
    });
    // a DKIM pass for the attacker's own From domain vouches for nobody else's mailbox
    expect(dsnTarget(judged('mx', verdict('fail', 'pass', 'attacker.example'))).to).toBeUndefined();
    expect(dsnTarget(judged('mx', verdict('fail', 'pass', 'sub.example.org'))).to).toBeUndefined();
  });

  it('never names anyone for the null sender', () => {
    expect(dsnTarget(judged('mx', verdict('pass', 'pass', 'example.org'), ''))).toEqual({ withheld: 'null sender' });
    expect(
      dsnTarget({
        ...smtpRecord({ role: 'submission', user: 'alice@example.org', envelope: { mailFrom: '', rcptTo: [] } }),
        queueId: 'Q',
      }),
    ).toEqual({ withheld: 'null sender' });
  });

  it('trusts the envelope of relay clients that skip sender checks (the operator vouches for them)', () => {
    expect(dsnTarget(judged('relay-in', null, 'user@corp.example', 'skip'))).toEqual({ to: 'user@corp.example' });
  });

  it('names the authenticated account on submission, and only that', () => {
    expect(dsnRecipient(smtp('submission', 'alice@example.org'))).toBe('alice@example.org');
    expect(dsnRecipient(smtp('relay-in', 'relay@example.org'))).toBe('relay@example.org');
    expect(dsnRecipient(smtp('submission', null))).toBeUndefined();
    expect(dsnRecipient(smtp('submission', 'alice'))).toBeUndefined();
  });
});

describe('NOTIFY', () => {
  it('defaults to failures and delays, NEVER silences everything, SUCCESS only on request', () => {
    expect(['failed', 'delayed', 'delivered', 'relayed'].map((a) => notifyAllows(undefined, a as never))).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect(notifyAllows(['NEVER'], 'failed')).toBe(false);
    expect(notifyAllows(['SUCCESS'], 'failed')).toBe(false);
    expect(notifyAllows(['SUCCESS'], 'relayed')).toBe(true);
    expect(notifyAllows(['FAILURE'], 'delayed')).toBe(false);
    expect(notifyAllows(['DELAY', 'FAILURE'], 'delayed')).toBe(true);
  });

  it('keeps the outcomes each recipient asked for, with its ORCPT', () => {
    const reports = requestedReports(
      {
        recipients: {
          'a@x.example': { notify: ['NEVER'] },
          'b@x.example': { notify: ['SUCCESS'], orcpt: 'rfc822;B@old.example' },
        },
      },
      [
        { recipient: 'a@x.example', action: 'failed', status: '5.1.1' },
        { recipient: 'b@x.example', action: 'delivered', status: '2.0.0' },
        { recipient: 'c@x.example', action: 'failed', status: '5.1.1' },
      ],
    );
    expect(reports).toEqual([
      { recipient: 'b@x.example', action: 'delivered', status: '2.0.0', originalRecipient: 'rfc822;B@old.example' },
      { recipient: 'c@x.example', action: 'failed', status: '5.1.1' },
    ]);
  });

  it('gives each action a status of its class', () => {
    expect(statusForAction('failed', '4.4.1')).toBe('5.4.1');
    expect(statusForAction('delayed', '5.7.1')).toBe('4.7.1');
    expect(statusForAction('delayed', undefined)).toBe('4.0.0');
    expect(statusForAction('relayed', '5.1.1')).toBe('2.0.0');
  });
});

describe('composeDsn', () => {
  const common = {
    reportingMta: 'gw.example.org',
    to: 'alice@example.org',
    queueId: '0123456789BCDFGHJK',
    arrivalDate: new Date(Date.UTC(2024, 0, 1)),
    date: new Date(Date.UTC(2024, 0, 2)),
    boundary: 'BOUNDARY',
  };
  const original = 'From: alice@example.org\r\nTo: bob@example.net\r\nSubject: hello\r\n\r\nBody text.\r\n';
  const bytes = composeDsn({
    ...common,
    recipients: [
      {
        recipient: 'bob@example.net',
        action: 'failed',
        status: '5.1.1',
        diagnostic: '550 5.1.1 <bob@example.net>:\r\n Recipient address rejected',
        remoteMta: '127.0.0.1:25',
      },
    ],
    returned: { headers: 'From: alice@example.org\r\nTo: bob@example.net\r\nSubject: hello\r\n\r\n' },
  });
  const text = bytes.toString('utf8');

  it('is a multipart/report of type delivery-status with the three parts', async () => {
    const parsed = await simpleParser(bytes);
    expect(parsed.headers.get('content-type')).toMatchObject({
      value: 'multipart/report',
      params: { 'report-type': 'delivery-status', boundary: 'BOUNDARY' },
    });
    expect(parsed.to).toMatchObject({ value: [{ address: 'alice@example.org' }] });
    expect(parsed.subject).toBe('Undelivered Mail Returned to Sender');
    expect(parsed.headers.get('auto-submitted')).toBe('auto-replied');
    expect(text).toContain('--BOUNDARY\r\nContent-Type: message/delivery-status\r\n');
    expect(text).toMatch(
      /--BOUNDARY\r\nContent-Type: text\/rfc822-headers\r\n.*\r\n\r\nFrom: alice@example\.org\r\nTo: bob@example\.net\r\nSubject: hello\r\n\r\n--BOUNDARY--\r\n$/,
    );
  });

  it('carries per-message and per-recipient fields, the remote reply on one line', () => {
    expect(text).toContain('Reporting-MTA: dns; gw.example.org\r\nArrival-Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n');
    expect(text).not.toContain('Original-Envelope-Id');
    expect(text).toContain(
      '\r\n\r\nFinal-Recipient: rfc822; bob@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns; 127.0.0.1:25\r\nDiagnostic-Code: smtp; 550 5.1.1 <bob@example.net>: Recipient address rejected\r\n',
    );
  });

  it('RET=FULL: returns the whole message as message/rfc822, readable as a message', async () => {
    const full = composeDsn({
      ...common,
      recipients: [{ recipient: 'bob@example.net', action: 'failed', status: '5.1.1', diagnostic: '550 no' }],
      returned: { message: Buffer.from(original) },
    });
    const parsed = await simpleParser(full);
    const returned = parsed.attachments.find((a) => a.contentType === 'message/rfc822');
    expect(returned?.content.toString('utf8')).toBe(original);
    expect(full.toString('utf8')).not.toContain('text/rfc822-headers');
    expect(full.toString('utf8')).not.toContain(
      'Content-Transfer-Encoding: 8bit\r\nContent-Description: Undelivered Message\r\n',
    );
  });

  it('RET=FULL with 8-bit octets declares the part 8bit', () => {
    const full = composeDsn({
      ...common,
      recipients: [{ recipient: 'bob@example.net', action: 'failed', status: '5.1.1' }],
      returned: { message: Buffer.from('Subject: caf\xe9\r\n\r\nna\xefve\r\n', 'latin1') },
    });
    expect(full.toString('latin1')).toContain(
      'Content-Type: message/rfc822\r\nContent-Transfer-Encoding: 8bit\r\nContent-Description: Undelivered Message\r\n\r\nSubject: caf\xe9\r\n\r\nna\xefve\r\n\r\n--BOUNDARY--\r\n',
    );
  });

  it('echoes ENVID as Original-Envelope-Id first and ORCPT as Original-Recipient', () => {
    const dsn = composeDsn({
      ...common,
      envid: 'QQ314159',
      recipients: [
        {
          recipient: 'bob@example.net',
          action: 'failed',
          status: '5.0.0',
          originalRecipient: 'rfc822;Bob@Example.NET',
        },
      ],
      returned: { headers: 'Subject: x\r\n\r\n' },
    }).toString('utf8');
    expect(dsn).toContain(
      'Content-Type: message/delivery-status\r\n\r\nOriginal-Envelope-Id: QQ314159\r\nReporting-MTA: dns; gw.example.org\r\n',
    );
    expect(dsn).toContain(
      '\r\n\r\nOriginal-Recipient: rfc822;Bob@Example.NET\r\nFinal-Recipient: rfc822; bob@example.net\r\nAction: failed\r\nStatus: 5.0.0\r\n',
    );
  });

  it('a delay warning: Action delayed, a 4.x.x status and Will-Retry-Until, its own subject', async () => {
    const until = new Date(Date.UTC(2024, 0, 6));
    const dsn = composeDsn({
      ...common,
      recipients: [
        {
          recipient: 'bob@example.net',
          action: 'delayed',
          status: '4.4.1',
          diagnostic: 'connect to mx.example.net: Connection refused',
          willRetryUntil: until,
        },
      ],
      returned: { headers: 'Subject: x\r\n\r\n' },
    });
    const parsed = await simpleParser(dsn);
    expect(parsed.subject).toBe('Delayed Mail (still being retried)');
    expect(dsn.toString('utf8')).toContain(
      'Action: delayed\r\nStatus: 4.4.1\r\nDiagnostic-Code: smtp; connect to mx.example.net: Connection refused\r\nWill-Retry-Until: Sat, 06 Jan 2024 00:00:00 +0000\r\n',
    );
  });

  it('a success report: relayed and delivered recipients, with their own subject', async () => {
    const dsn = composeDsn({
      ...common,
      recipients: [
        { recipient: 'a@example.net', action: 'relayed', status: '2.0.0', diagnostic: '250 2.0.0 Ok' },
        { recipient: 'b@example.net', action: 'delivered', status: '2.0.0' },
      ],
      returned: { headers: 'Subject: x\r\n\r\n' },
    });
    expect((await simpleParser(dsn)).subject).toBe('Successful Mail Delivery Report');
    expect(dsn.toString('utf8')).toContain('Action: relayed\r\nStatus: 2.0.0\r\n');
    expect(dsn.toString('utf8')).toContain('Action: delivered\r\nStatus: 2.0.0\r\n');
  });
});
