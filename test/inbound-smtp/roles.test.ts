// Listener roles: relay-in admits only relay_clients and believes their XFORWARD; submission
// demands AUTH (after STARTTLS unless allowed on loopback) before anything may leave; mx
// ignores XFORWARD. Peers: raw sockets (from 127.0.0.1 and 127.0.0.2) and Python's smtplib.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/config/password-hash.js';
import { tempDir } from '../support/tmp.js';
import { type Harness, message, startHarness } from './harness.js';
import { python } from './peers.js';
import { RawSmtp } from './raw-smtp.js';

const zone = `
$ORIGIN forwarded.test.
@       TXT "v=spf1 ip4:203.0.113.5 -all"
_dmarc  TXT "v=DMARC1; p=reject"
_pmtp.peer.test.  TXT "v=PMTP1; endpoint=https://pmtp.peer.test/"
`;

const smtplib = (body: string) => `
import smtplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP('127.0.0.1', PORT, local_hostname='laptop.test', timeout=10)
try:
${body
  .trim()
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
except smtplib.SMTPException as e:
    print('ERR', e); sys.exit(3)
s.quit()
`;

describe('listener roles', () => {
  let h: Harness;
  let removeDir: () => Promise<void>;

  beforeAll(async () => {
    const tmp = await tempDir('tls');
    removeDir = tmp.remove;
    const key = path.join(tmp.dir, 'key.pem');
    const cert = path.join(tmp.dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-subj',
        '/CN=mx.gw.test',
        '-days',
        '1',
      ],
      { stdio: 'ignore' },
    );
    const password_hash = await hashPassword('s3cret', { N: 1024 });
    h = await startHarness({
      zone,
      listeners: [
        { role: 'relay-in' },
        { role: 'submission', tls: { key, cert } },
        { role: 'submission', allow_insecure_auth: true },
        { role: 'mx' },
      ],
      config: { smtp: { relay_clients: ['127.0.0.2/32'], accounts: [{ user: 'alice@native.test', password_hash }] } },
    });
  });
  afterAll(async () => {
    await h?.close();
    await removeDir();
  });

  it('relay-in refuses a client not in relay_clients at connect with 554 5.7.1', async () => {
    const c = await RawSmtp.connect(h.port('relay-in'), '127.0.0.1').catch(() => undefined);
    expect(c?.greeting).toBe('554 5.7.1 Client host rejected: access denied');
    await c?.closed();
    expect(c?.isClosed).toBe(true);
  });

  it('relay-in takes XFORWARD from a listed client: checks judge the forwarded IP and HELO, mail may leave', async () => {
    const c = await RawSmtp.connect(h.port('relay-in'), '127.0.0.2');
    expect(c.greeting).toMatch(/^220 /);
    expect(await c.command('EHLO postfix.corp.test')).toContain('XFORWARD');
    expect(await c.command('XFORWARD ADDR=203.0.113.5 NAME=out.forwarded.test HELO=out.forwarded.test')).toMatch(
      /^250/,
    );
    // Postfix sends XFORWARD after EHLO, so no second EHLO here
    for (const line of [
      'MAIL FROM:<news@forwarded.test>',
      'RCPT TO:<someone@elsewhere.test>',
      'RCPT TO:<peer@peer.test>',
    ])
      expect(await c.command(line)).toMatch(/^250/);
    expect(await c.command('DATA')).toMatch(/^354/);
    c.write(`${message('news@forwarded.test', 'someone@elsewhere.test')}.\r\n`);
    const id = /queued as (\S+)/.exec(await c.reply())?.[1];
    c.end();
    const meta = await h.meta(id!);
    expect(meta.client).toMatchObject({
      ip: '203.0.113.5',
      peer: '127.0.0.2',
      helo: 'out.forwarded.test',
      role: 'relay-in',
    });
    expect(meta.senderAuth.verdict).toMatchObject({ spf: 'pass', dmarc: 'pass', action: 'accept' });
    expect(meta.routes).toEqual([
      { rcpt: 'someone@elsewhere.test', kind: 'internet', domain: 'elsewhere.test' },
      { rcpt: 'peer@peer.test', kind: 'pmtp', domain: 'peer.test', via: 'dns' },
    ]);
  });

  it('mx does not honour XFORWARD', async () => {
    const c = await RawSmtp.connect(h.port('mx'));
    expect(await c.command('EHLO client.test')).not.toContain('XFORWARD');
    expect(await c.command('XFORWARD ADDR=203.0.113.5')).toMatch(/^5\d\d /);
    c.end();
  });

  it('submission without AUTH cannot send, let alone relay: 530 5.7.0', async () => {
    const c = await RawSmtp.connect(h.port('submission', 1));
    await c.command('EHLO laptop.test');
    expect(await c.command('MAIL FROM:<alice@native.test>')).toBe('530 5.7.0 Authentication required');
    expect(await c.command('RCPT TO:<someone@elsewhere.test>')).toMatch(/^5\d\d /);
    c.end();
  });

  it('refuses AUTH before STARTTLS when cleartext AUTH is not allowed', async () => {
    const c = await RawSmtp.connect(h.port('submission', 0));
    expect(await c.command('EHLO laptop.test')).toContain('STARTTLS');
    const plain = Buffer.from('\0alice@native.test\0s3cret').toString('base64');
    expect(await c.command(`AUTH PLAIN ${plain}`)).toMatch(/^53[08] /);
    expect(await c.command('MAIL FROM:<alice@native.test>')).toMatch(/^530 /);
    c.end();
  });

  it('smtplib: STARTTLS, AUTH, then mail to anywhere; a wrong password gets 535 5.7.8', async () => {
    const before = await h.entries();
    const ok = await python(
      smtplib(
        `s.starttls(context=ctx); s.login('alice@native.test', 's3cret'); print('REFUSED', s.sendmail('alice@native.test', ['friend@elsewhere.test'], b'From: <alice@native.test>\\r\\nSubject: hi\\r\\n\\r\\nhello\\r\\n'))`,
      ),
      h.port('submission', 0),
    );
    expect(ok.out).toContain('REFUSED {}');
    const added = (await h.entries()).filter((e) => !before.includes(e));
    expect(added).toHaveLength(1);
    const meta = await h.meta(added[0]!);
    expect(meta.client).toMatchObject({
      user: 'alice@native.test',
      tls: true,
      role: 'submission',
      protocol: 'ESMTPSA',
    });
    expect(meta.authenticationResults).toBe(
      'Authentication-Results: mx.gw.test;\r\n auth=pass smtp.auth=alice@native.test\r\n',
    );
    expect(meta.routes).toEqual([{ rcpt: 'friend@elsewhere.test', kind: 'internet', domain: 'elsewhere.test' }]);
    const bad = await python(
      smtplib(`s.starttls(context=ctx); s.login('alice@native.test', 'wrong')`),
      h.port('submission', 0),
    );
    expect(bad.out).toMatch(/ERR \(535, b'5\.7\.8 Authentication credentials invalid'\)/);
  });

  it('allows cleartext AUTH on a loopback listener with allow_insecure_auth', async () => {
    const run = await python(
      smtplib(
        `s.login('alice@native.test', 's3cret'); print('REFUSED', s.sendmail('alice@native.test', ['x@elsewhere.test'], b'Subject: a\\r\\n\\r\\nb\\r\\n'))`,
      ),
      h.port('submission', 1),
    );
    expect(run.out).toContain('REFUSED {}');
  });
});
