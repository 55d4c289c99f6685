// "Sign this and give it back": a logged-in submission client sends to mailbridge-sign@<hostname>
// and gets `250 Ok: signed`; the DKIM-signed copy is spooled for the sender's own mailbox and
// verifies. Mixing with other recipients, a sender not hosted here, or mx are refused.
import { buffer } from 'node:stream/consumers';
import { dkimVerify } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/config/password-hash.js';
import { makeDkimKey, type TestDkimKey } from '../support/dkim-key.js';
import { tempDir } from '../support/tmp.js';
import { type Harness, message, startHarness } from './harness.js';
import { swaksRaw, swaksReplies } from './peers.js';
import { RawSmtp } from './raw-smtp.js';

const auth = ['--auth', 'PLAIN', '--auth-user', 'alice@native.test', '--auth-password', 's3cret'];

describe('submission: sign-back', () => {
  let h: Harness;
  let dir: string;
  let removeDir: () => Promise<void>;
  let key: TestDkimKey;

  beforeAll(async () => {
    ({ dir, remove: removeDir } = await tempDir('sign'));
    key = await makeDkimKey(dir, 'native.test', 'k1');
    const password_hash = await hashPassword('s3cret', { N: 1024 });
    h = await startHarness({
      listeners: [{ role: 'submission', allow_insecure_auth: true }, { role: 'mx' }],
      config: {
        dkim: { domain: 'native.test', selector: 'k1', key_file: key.keyFile },
        smtp: {
          accounts: [
            { user: 'alice@native.test', password_hash, senders: ['@elsewhere.test'] },
            { user: 'bulk@native.test', password_hash, senders: ['*'] },
          ],
        },
      },
    });
  });
  afterAll(async () => {
    await h?.close();
    await removeDir();
  });

  const send = (from: string, to: string, extra: string[] = auth) =>
    swaksRaw(h.port('submission'), from, to, `${message(from, 'bob@elsewhere.test')}.`, dir, extra);

  it('answers 250 Ok: signed and spools a DKIM-signed copy routed back to the sender', async () => {
    const run = await send('alice@native.test', 'MailBridge-Sign@mx.gw.test');
    const reply = swaksReplies(run.out).at(-2) ?? '';
    const id = /^250 2\.0\.0 Ok: signed, queued as (\S+)$/.exec(reply)?.[1];
    expect(id, run.out).toBeDefined();
    const meta = await h.meta(id!);
    expect(meta).toMatchObject({
      signBack: true,
      envelope: { mailFrom: 'alice@native.test', rcptTo: ['alice@native.test'] },
      routes: [{ rcpt: 'alice@native.test', kind: 'mailbox', domain: 'native.test' }],
      client: { role: 'submission', user: 'alice@native.test', protocol: 'ESMTPA' },
    });
    expect(meta.received).toContain('for <alice@native.test>');
    const { stream } = await h.spool.openBody(id!);
    const signed = await buffer(stream);
    expect(signed.toString('latin1')).toMatch(/^DKIM-Signature: /);
    const verified = await dkimVerify(signed, { resolver: key.resolver });
    expect(verified.results[0]?.status.result).toBe('pass');
    expect(verified.results[0]?.signingDomain).toBe('native.test');
    expect(await h.queues.hasJob('inbound', id!)).toBe(true);
  });

  it('refuses the signing address beside other recipients, either order', async () => {
    const c = await RawSmtp.connect(h.port('submission'));
    await c.command('EHLO laptop.test');
    expect(await c.command(`AUTH PLAIN ${Buffer.from('\0alice@native.test\0s3cret').toString('base64')}`)).toMatch(
      /^235/,
    );
    expect(await c.command('MAIL FROM:<alice@native.test>')).toMatch(/^250/);
    expect(await c.command('RCPT TO:<bob@elsewhere.test>')).toMatch(/^250/);
    expect(await c.command('RCPT TO:<mailbridge-sign@mx.gw.test>')).toMatch(
      /^503 5\.5\.1 .*must be the only recipient/,
    );
    expect(await c.command('RSET')).toMatch(/^250/);
    expect(await c.command('MAIL FROM:<alice@native.test>')).toMatch(/^250/);
    expect(await c.command('RCPT TO:<mailbridge-sign@mx.gw.test>')).toMatch(/^250/);
    expect(await c.command('RCPT TO:<bob@elsewhere.test>')).toMatch(/^503 5\.5\.1 /);
    c.end();
  });

  it('refuses a sender whose mailbox is not hosted here', async () => {
    const run = await send('alice@elsewhere.test', 'mailbridge-sign@mx.gw.test');
    expect(swaksReplies(run.out)).toContain('550 5.7.1 Sign-back returns mail only to a sender hosted here');
  });

  it('refuses a login allowed any sender to have mail signed back into another user’s mailbox', async () => {
    const bulk = ['--auth', 'PLAIN', '--auth-user', 'bulk@native.test', '--auth-password', 's3cret'];
    const before = await h.entries();
    const run = await send('carol@native.test', 'mailbridge-sign@mx.gw.test', bulk);
    expect(swaksReplies(run.out)).toContain('550 5.7.1 Sign-back returns mail only to a sender hosted here');
    expect(await h.entries()).toEqual(before);
  });

  it('is no special address on mx: there it is relaying', async () => {
    const run = await swaksRaw(
      h.port('mx'),
      'x@elsewhere.test',
      'mailbridge-sign@mx.gw.test',
      `${message('x@elsewhere.test', 'y@z.test')}.`,
      dir,
    );
    expect(swaksReplies(run.out)).toContainEqual(expect.stringMatching(/^554 5\.7\.1 Relay access denied/));
  });
});

describe('submission: sign-back without a dkim key', () => {
  it('answers 554 5.3.3 at RCPT', async () => {
    const password_hash = await hashPassword('s3cret', { N: 1024 });
    const h = await startHarness({
      listeners: [{ role: 'submission', allow_insecure_auth: true }],
      config: { smtp: { accounts: [{ user: 'alice@native.test', password_hash }] } },
    });
    try {
      const c = await RawSmtp.connect(h.port('submission'));
      await c.command('EHLO laptop.test');
      await c.command(`AUTH PLAIN ${Buffer.from('\0alice@native.test\0s3cret').toString('base64')}`);
      await c.command('MAIL FROM:<alice@native.test>');
      expect(await c.command('RCPT TO:<mailbridge-sign@mx.gw.test>')).toBe(
        '554 5.3.3 Signing is not configured on this gateway',
      );
      c.end();
    } finally {
      await h.close();
    }
  });
});
