// Submission logins checked by a real Dovecot's auth service (auth-client socket, the protocol of
// Postfix's smtpd_sasl_type=dovecot) beside the static accounts: PLAIN and LOGIN, wrong passwords,
// a Dovecot login owning its own address only, and 454 4.7.0 when the auth service is down.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/config/password-hash.js';
import { dovecotLogin } from '../../src/inbound-smtp/dovecot-sasl.js';
import { doveadmHash, dovecotMissing, type PrivateDovecot, startDovecot } from '../support/dovecot.js';
import { freePort } from '../support/smtp-sink.js';
import { sendWithSwaks } from '../support/swaks.js';
import { type Harness, startHarness } from './harness.js';
import { RawSmtp } from './raw-smtp.js';

const skip = dovecotMissing();
const plain = (user: string, password: string): string => Buffer.from(`\0${user}\0${password}`).toString('base64');
const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe.skipIf(skip)(`submission AUTH against Dovecot${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let dovecot: PrivateDovecot;
  let harness: Harness;
  let down: Harness;

  beforeAll(async () => {
    dovecot = await startDovecot([
      { user: 'alice@native.test', password: doveadmHash('SHA512-CRYPT', 'alice secret') },
      { user: 'bob@native.test', password: doveadmHash('BLF-CRYPT', 'bob secret') },
    ]);
    const accounts = [{ user: 'static@native.test', password_hash: await hashPassword('static pw', { N: 1024 }) }];
    const listeners = [{ role: 'submission', allow_insecure_auth: true }];
    harness = await startHarness({
      listeners,
      config: { smtp: { accounts, dovecot_auth: { socket: dovecot.authSocket } } },
    });
    down = await startHarness({
      listeners,
      config: { smtp: { accounts, dovecot_auth: { socket: `127.0.0.1:${await freePort()}`, timeout_s: 2 } } },
    });
  }, 30_000);

  afterAll(async () => {
    await harness?.close();
    await down?.close();
    await dovecot?.stop();
  });

  async function auth(port: number, command: string, ...more: string[]): Promise<string> {
    const session = await RawSmtp.connect(port);
    await session.command('EHLO laptop.example');
    let reply = await session.command(command);
    for (const line of more) reply = await session.command(line);
    session.end();
    return reply;
  }

  it('speaks the auth-client protocol: OK with the user name, FAIL for a wrong password or unknown user', async () => {
    const request = { user: 'alice@native.test', password: 'alice secret', secured: false, remoteIp: '127.0.0.1' };
    expect(await dovecotLogin(request, dovecot.authSocket, 5000)).toEqual({ kind: 'ok', user: 'alice@native.test' });
    expect(await dovecotLogin({ ...request, password: 'wrong' }, dovecot.authSocket, 5000)).toEqual({ kind: 'fail' });
    expect(await dovecotLogin({ ...request, user: 'ghost@native.test' }, dovecot.authSocket, 5000)).toEqual({
      kind: 'fail',
    });
  });

  it('logs in a Dovecot user with PLAIN and LOGIN (a bcrypt hash we could not check ourselves too)', async () => {
    const port = harness.port('submission');
    expect(await auth(port, `AUTH PLAIN ${plain('alice@native.test', 'alice secret')}`)).toMatch(/^235 /);
    expect(await auth(port, 'AUTH LOGIN', b64('bob@native.test'), b64('bob secret'))).toMatch(/^235 /);
    expect(await auth(port, `AUTH PLAIN ${plain('alice@native.test', 'nope')}`)).toMatch(/^535 5\.7\.8/);
    expect(await auth(port, `AUTH PLAIN ${plain('ghost@native.test', 'x')}`)).toMatch(/^535 5\.7\.8/);
  });

  it('keeps the static accounts first: their hash decides, Dovecot is not asked', async () => {
    const port = harness.port('submission');
    expect(await auth(port, `AUTH PLAIN ${plain('static@native.test', 'static pw')}`)).toMatch(/^235 /);
    expect(await auth(port, `AUTH PLAIN ${plain('static@native.test', 'wrong')}`)).toMatch(/^535 /);
  });

  it('lets a Dovecot login send as its own address only, end to end with swaks', async () => {
    const server = `127.0.0.1:${harness.port('submission')}`;
    const auth = { user: 'alice@native.test', password: 'alice secret' };
    const own = await sendWithSwaks({ server, from: 'alice@native.test', to: 'friend@native.test', auth });
    expect(own).toMatch(/<- {2}250 2\.0\.0 Ok: queued as /);
    const other = await sendWithSwaks({ server, from: 'bob@native.test', to: 'friend@native.test', auth });
    expect(other).toMatch(/<\*\* {1,2}553 5\.7\.1/);
  });

  it('answers 454 4.7.0 when the auth service cannot be reached, not 535', async () => {
    const port = down.port('submission');
    expect(await auth(port, `AUTH PLAIN ${plain('alice@native.test', 'alice secret')}`)).toMatch(/^454 4\.7\.0/);
    // the static list still works while Dovecot is down
    expect(await auth(port, `AUTH PLAIN ${plain('static@native.test', 'static pw')}`)).toMatch(/^235 /);
  });
});
