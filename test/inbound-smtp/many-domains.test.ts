// Many domains on one SMTP listener: each domain's certificate is presented to a client that names
// it (SNI, checked with openssl s_client after STARTTLS), and a domain's own size limit refuses a
// larger SIZE at RCPT for its recipients only (552 5.3.4), and a larger message at DATA.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSigned } from '../support/self-signed.js';
import { tempDir } from '../support/tmp.js';
import { type Harness, message, startHarness } from './harness.js';
import { RawSmtp } from './raw-smtp.js';

const run = promisify(execFile);

describe('many domains on one SMTP listener', () => {
  let h: Harness;
  let removeDir: () => Promise<void>;

  beforeAll(async () => {
    const tmp = await tempDir('sni');
    removeDir = tmp.remove;
    h = await startHarness({
      listeners: [{ role: 'mx', tls: selfSigned(tmp.dir, 'mx.gw.test') }],
      config: {
        domains: {
          mailbox: ['one.test', 'two.test'],
          verify: { 'one.test': { source: 'any' }, 'two.test': { source: 'any' } },
          settings: {
            'one.test': { tls: selfSigned(tmp.dir, 'mail.one.test') },
            'two.test': { tls: selfSigned(tmp.dir, 'mail.two.test'), max_message_bytes: 1000 },
          },
        },
      },
    });
  });
  afterAll(async () => {
    await h?.close();
    await removeDir?.();
  });

  /** The subject CN the listener presents after STARTTLS to a client asking for `servername`. */
  async function presented(servername: string): Promise<string> {
    const running = run(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${h.port('mx')}`, '-starttls', 'smtp', '-servername', servername],
      { timeout: 15_000 },
    );
    // with stdin closed, s_client ends right after the handshake
    running.child.stdin?.end();
    const { stdout } = await running.catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
    return /subject=\s*CN\s*=\s*([^\s,/]+)/.exec(stdout)?.[1] ?? `none in: ${stdout.slice(0, 200)}`;
  }

  it("presents each domain's certificate for its names, the listener's own for any other", async () => {
    expect(await presented('mail.one.test')).toBe('mail.one.test');
    expect(await presented('mail.two.test')).toBe('mail.two.test');
    expect(await presented('two.test')).toBe('mail.two.test');
    expect(await presented('elsewhere.test')).toBe('mx.gw.test');
  });

  it("refuses a SIZE above a domain's own limit at RCPT, for that domain's recipients only", async () => {
    const c = await RawSmtp.connect(h.port('mx'));
    await c.command('EHLO client.test');
    expect(await c.command('MAIL FROM:<sender@outside.test> SIZE=5000')).toMatch(/^250 /);
    expect(await c.command('RCPT TO:<bob@two.test>')).toMatch(/^552 5\.3\.4 .*two\.test takes at most 1000 bytes/);
    expect(await c.command('RCPT TO:<bob@one.test>')).toMatch(/^250 /);
    await c.command('QUIT');
  });

  it("refuses at DATA a message above a recipient domain's limit when no SIZE was declared", async () => {
    const c = await RawSmtp.connect(h.port('mx'));
    await c.command('EHLO client.test');
    await c.command('MAIL FROM:<sender@outside.test>');
    expect(await c.command('RCPT TO:<bob@two.test>')).toMatch(/^250 /);
    expect(await c.command('DATA')).toMatch(/^354 /);
    const before = (await h.entries()).length;
    const big = message('sender@outside.test', 'bob@two.test', 'x'.repeat(2000));
    expect(await c.command(`${big}.`)).toMatch(/^552 5\.3\.4 /);
    expect((await h.entries()).length).toBe(before);
    // the same message to the other domain is taken
    await c.command('MAIL FROM:<sender@outside.test>');
    await c.command('RCPT TO:<bob@one.test>');
    await c.command('DATA');
    expect(await c.command(`${big}.`)).toMatch(/^250 /);
    await c.command('QUIT');
  });
});
