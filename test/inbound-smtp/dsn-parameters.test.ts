// The DSN extension on the listeners (RFC 3461): EHLO advertises it; RET and ENVID on MAIL FROM,
// NOTIFY and ORCPT on RCPT TO are checked (501 5.5.4 on bad syntax) and kept, xtext decoded, in
// the spool record. Real sockets, a real spool and Redis.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  mailParameters,
  printableParameter,
  recipientParameters,
  xtextLength,
} from '../../src/inbound-smtp/dsn-parameters.js';
import { parseSpoolRecord } from '../../src/mail/spool-records.js';
import { smtpRecord } from '../support/records.js';
import { type Harness, message, startHarness } from './harness.js';
import { RawSmtp } from './raw-smtp.js';

describe('DSN parameters, parsed', () => {
  it('takes printable ASCII whose xtext form fits the limit', () => {
    expect(printableParameter('QQ+314159', 100)).toBe('QQ+314159');
    expect(xtextLength('a+b=c d')).toBe(13);
    expect(printableParameter('x'.repeat(100), 100)).toBeDefined();
    expect(printableParameter(`${'x'.repeat(98)}+`, 100)).toBeUndefined();
    expect(printableParameter('caf\u00e9', 100)).toBeUndefined();
    expect(printableParameter('', 100)).toBeUndefined();
  });

  it('reads RET and ENVID, and refuses a bad RET or an ENVID over 100 characters', () => {
    expect(mailParameters({ RET: 'hdrs', ENVID: 'id+1' })).toEqual({
      ok: true,
      value: { ret: 'HDRS', envid: 'id+1' },
    });
    expect(mailParameters(false)).toEqual({ ok: true, value: {} });
    expect(mailParameters({ RET: 'BODY' }).ok).toBe(false);
    expect(mailParameters({ ENVID: 'x'.repeat(100) }).ok).toBe(true);
    expect(mailParameters({ ENVID: 'x'.repeat(101) }).ok).toBe(false);
  });

  it('reads NOTIFY and ORCPT, and refuses NEVER with others, repeats, unknown values and bad ORCPT', () => {
    expect(recipientParameters({ NOTIFY: 'success,Delay', ORCPT: 'rfc822;Bob@old.example' })).toEqual({
      ok: true,
      value: { notify: ['SUCCESS', 'DELAY'], orcpt: 'rfc822;Bob@old.example' },
    });
    for (const args of <Record<string, string>[]>[
      { NOTIFY: 'NEVER,FAILURE' },
      { NOTIFY: 'FAILURE,FAILURE' },
      { NOTIFY: 'SOMETIMES' },
      { ORCPT: 'bob@old.example' },
      { ORCPT: 'rfc822;bob\u00e9@old.example' },
      { ORCPT: `rfc822;${'b'.repeat(500)}` },
    ])
      expect(recipientParameters(args).ok, JSON.stringify(args)).toBe(false);
  });

  it('keeps records without DSN fields readable, and refuses an ENVID longer than the RFC allows', () => {
    const record = { ...smtpRecord({ envelope: { mailFrom: 'a@b.example', rcptTo: ['c@d.example'] } }), queueId: 'Q' };
    expect(parseSpoolRecord(record).ok).toBe(true);
    expect(parseSpoolRecord({ ...record, dsn: { ret: 'FULL', envid: 'x'.repeat(100) } }).ok).toBe(true);
    expect(parseSpoolRecord({ ...record, dsn: { envid: 'x'.repeat(101) } }).ok).toBe(false);
    expect(parseSpoolRecord({ ...record, dsn: { recipients: { 'c@d.example': { notify: ['ALWAYS'] } } } }).ok).toBe(
      false,
    );
  });
});

describe('DSN on the listeners', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      listeners: [{ role: 'mx' }, { role: 'relay-in' }, { role: 'submission', allow_insecure_auth: true }],
    });
  });
  afterAll(async () => {
    await h.close();
  });

  it('advertises DSN in EHLO on every role', async () => {
    for (const role of ['mx', 'relay-in', 'submission']) {
      const c = await RawSmtp.connect(h.port(role));
      expect(await c.command('EHLO client.test'), role).toMatch(/^250-DSN$/m);
      c.end();
    }
  });

  it('stores RET, ENVID, NOTIFY and ORCPT decoded, per recipient, in the spool record', async () => {
    const c = await RawSmtp.connect(h.port('mx'));
    expect(await c.command('EHLO client.test')).toMatch(/^250/);
    expect(await c.command('MAIL FROM:<a@sender.test> RET=FULL ENVID=QQ+2B314159')).toMatch(/^250/);
    expect(await c.command('RCPT TO:<x@native.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;X+40Old.test')).toMatch(/^250/);
    expect(await c.command('RCPT TO:<y@native.test> NOTIFY=NEVER')).toMatch(/^250/);
    expect(await c.command('RCPT TO:<z@native.test>')).toMatch(/^250/);
    expect(await c.command('DATA')).toMatch(/^354/);
    const reply = await c.command(`${message('a@sender.test', 'x@native.test')}.`);
    c.end();
    const queueId = /queued as (\S+)$/.exec(reply)?.[1];
    expect(queueId, reply).toBeDefined();
    expect((await h.meta(queueId!)).dsn).toEqual({
      ret: 'FULL',
      envid: 'QQ+314159',
      recipients: {
        'x@native.test': { notify: ['SUCCESS', 'FAILURE'], orcpt: 'rfc822;X@Old.test' },
        'y@native.test': { notify: ['NEVER'] },
      },
    });
  });

  it('leaves the field out when the client gave no DSN parameter', async () => {
    const c = await RawSmtp.connect(h.port('mx'));
    await c.envelope('a@sender.test', ['x@native.test']);
    expect(await c.command('DATA')).toMatch(/^354/);
    const reply = await c.command(`${message('a@sender.test', 'x@native.test')}.`);
    c.end();
    expect((await h.meta(/queued as (\S+)$/.exec(reply)![1]!)).dsn).toBeUndefined();
  });

  it('answers bad DSN syntax with 501 5.5.4, and a refused MAIL FROM leaves no RET behind', async () => {
    const c = await RawSmtp.connect(h.port('mx'));
    expect(await c.command('EHLO client.test')).toMatch(/^250/);
    expect(await c.command('MAIL FROM:<a@sender.test> RET=FULL ENVID=caf\xe9')).toMatch(/^501 5\.5\.4 /);
    expect(await c.command(`MAIL FROM:<a@sender.test> ENVID=${'x'.repeat(101)}`)).toMatch(/^501 5\.5\.4 /);
    expect(await c.command('MAIL FROM:<a@sender.test> RET=SOME')).toMatch(/^501 /);
    expect(await c.command('MAIL FROM:<a@sender.test>')).toMatch(/^250/);
    expect(await c.command(`RCPT TO:<x@native.test> ORCPT=rfc822;${'x'.repeat(490)}+2B+2B+2B@native.test`)).toMatch(
      /^501 5\.5\.4 /,
    );
    expect(await c.command('RCPT TO:<x@native.test> NOTIFY=NEVER,DELAY')).toMatch(/^501 /);
    expect(await c.command('RCPT TO:<x@native.test> NOTIFY=DELAY')).toMatch(/^250/);
    expect(await c.command('DATA')).toMatch(/^354/);
    const reply = await c.command(`${message('a@sender.test', 'x@native.test')}.`);
    c.end();
    expect((await h.meta(/queued as (\S+)$/.exec(reply)![1]!)).dsn).toEqual({
      recipients: { 'x@native.test': { notify: ['DELAY'] } },
    });
  });
});
