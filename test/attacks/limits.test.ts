// Resource limits against `mailbridge staging` in its own process: an oversized line, a 20 MB
// header block with no blank line, 10,000 pipelined recipients and MIME bombs (500-deep nesting,
// 5,000 parts) by SMTP and over PMTP. Each is refused or handled in bounded time; the process lives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawSmtp } from '../inbound-smtp/raw-smtp.js';
import { startStaging, type Staging } from './staging.js';

const from = 'carol@legacy.test';
const mime = (to: string, subject: string, body: string, type: string) =>
  `From: <${from}>\r\nTo: <${to}>\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@legacy.test>\r\nMIME-Version: 1.0\r\nContent-Type: ${type}\r\n\r\n${body}`;

/** 500 nested multipart/mixed levels around one text part. */
function deepBomb(to: string, depth = 500): string {
  let body = 'Content-Type: text/plain\r\n\r\ncore\r\n';
  for (let i = depth - 1; i >= 1; i--) body = `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n${body}--b${i}--\r\n`;
  return mime(to, 'deep', `--b0\r\n${body}--b0--\r\n`, 'multipart/mixed; boundary="b0"');
}

/** 5,000 tiny attachments in one multipart/mixed. */
function wideBomb(to: string, parts = 5000): string {
  const one = (i: number) => `--w\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="p${i}.bin"\r\n\r\nx${i}\r\n`;
  return mime(to, 'wide', `${Array.from({ length: parts }, (_, i) => one(i)).join('')}--w--\r\n`, 'multipart/mixed; boundary="w"');
}

describe('attacks: limits', () => {
  let s: Staging;
  let mx: number;

  beforeAll(async () => {
    s = await startStaging(['alpha.test', 'beta.test'], ['legacy.test']);
    mx = s.port(s.domains['alpha.test']!.mx);
  });
  afterAll(async () => {
    await s?.stop();
  });

  /** Sends one message over a raw session; returns the DATA reply and whether a next MAIL gets 250. */
  async function sendRaw(port: number, to: string, data: string | Buffer, auth?: { user: string; password: string }): Promise<{ reply: string; next: string; ms: number }> {
    const c = await RawSmtp.connect(port);
    try {
      expect(await c.command('EHLO client.test')).toMatch(/^250/);
      if (auth) expect(await c.command(`AUTH PLAIN ${Buffer.from(`\0${auth.user}\0${auth.password}`).toString('base64')}`)).toMatch(/^235/);
      expect(await c.command(`MAIL FROM:<${auth ? auth.user : from}>`)).toMatch(/^250/);
      expect(await c.command(`RCPT TO:<${to}>`)).toMatch(/^250/);
      expect(await c.command('DATA')).toMatch(/^354/);
      const started = Date.now();
      c.write(data);
      c.write('\r\n.\r\n');
      const reply = await c.reply(30_000);
      const ms = Date.now() - started;
      const next = reply === '' ? '' : await c.command(`MAIL FROM:<${from}>`);
      return { reply, next, ms };
    } finally {
      c.end();
    }
  }

  it('refuses a 100 kB line with 500 5.5.2, and the session carries on', async () => {
    const { reply, next } = await sendRaw(mx, 'bob@alpha.test', mime('bob@alpha.test', 'long', `${'y'.repeat(100_000)}\r\n`, 'text/plain'));
    expect(reply).toMatch(/^500 5\.5\.2 Line longer than 2048 bytes/);
    expect(next).toMatch(/^250/);
  });

  it('refuses a 20 MB header block with no blank line with 552 5.3.4, and stays up', async () => {
    const block = Buffer.from(`X-Filler: ${'h'.repeat(990)}\r\n`.repeat(20 * 1024));
    const { reply, next, ms } = await sendRaw(mx, 'bob@alpha.test', Buffer.concat([Buffer.from(`From: <${from}>\r\n`), block]));
    console.log(`20 MB header block: answered in ${ms} ms: ${reply}`);
    expect(reply).toMatch(/^552 5\.3\.4 Header section exceeds 102400 bytes/);
    expect(next).toMatch(/^250/);
    expect(s.alive()).toBe(true);
  });

  it('answers 452 4.5.3 to each of 10,000 pipelined recipients past the 1,000 limit, and stays up', async () => {
    const c = await RawSmtp.connect(mx);
    await c.command('EHLO client.test');
    await c.command(`MAIL FROM:<${from}>`);
    const started = Date.now();
    c.write(Array.from({ length: 10_000 }, (_, i) => `RCPT TO:<u${i}@alpha.test>\r\n`).join(''));
    const replies = await c.replyCount(10_000);
    const ms = Date.now() - started;
    c.end();
    console.log(`10,000 recipients: all answered in ${ms} ms`);
    expect(replies.slice(0, 1000).every((r) => r.startsWith('250'))).toBe(true);
    expect(replies.slice(1000).every((r) => r === '452 4.5.3 Too many recipients')).toBe(true);
    expect(s.alive()).toBe(true);
    const fresh = await RawSmtp.connect(mx);
    expect(fresh.greeting).toMatch(/^220 /);
    fresh.end();
  });

  for (const [name, bomb] of [['500-deep nesting', deepBomb], ['5,000 parts', wideBomb]] as const) {
    it(`MIME bomb (${name}) by SMTP to a native mailbox: handled in bounded time, nothing crashes`, async () => {
      const { reply, ms } = await sendRaw(mx, 'bob@alpha.test', bomb('bob@alpha.test'));
      expect(reply).toMatch(/^250 2\.0\.0 Ok: queued as /);
      const before = (await s.delivered('alpha.test', 'bob')).length;
      const started = Date.now();
      const files = await s.waitDelivered('alpha.test', 'bob', before + 1, 15_000);
      console.log(`MIME bomb (${name}) smtp->maildir: DATA answered in ${ms} ms, delivered after ${Date.now() - started} ms`);
      expect(files.some((f) => f.includes(`Message-ID: <${bomb === deepBomb ? 'deep' : 'wide'}@legacy.test>`))).toBe(true);
      expect(s.alive()).toBe(true);
    });

    it(`MIME bomb (${name}) by submission to another staging domain, through the PMTP conversion`, async () => {
      const alpha = s.domains['alpha.test']!;
      const { reply } = await sendRaw(s.port(alpha.submission), 'erin@beta.test', bomb('erin@beta.test').replace(`From: <${from}>`, `From: <${alpha.user}>`), alpha);
      expect(reply).toMatch(/^250 2\.0\.0 Ok: queued as /);
      const started = Date.now();
      const before = (await s.delivered('beta.test', 'erin')).length;
      const files = await s.waitDelivered('beta.test', 'erin', before + 1, 20_000);
      console.log(`MIME bomb (${name}) submission->pmtp->maildir: ${files.length - before} delivered after ${Date.now() - started} ms`);
      console.log((await s.delivered('alpha.test', 'postmaster')).map((f) => f.slice(0, 3000)).join('\n=====\n'));
      console.log((await import('node:fs/promises').then((m) => m.readFile(`${s.dir}/alpha.test/mailbridge.log`, 'utf8'))).split('\n').filter((l) => /"level":(40|50)/.test(l)).slice(0, 5).join('\n'));
      expect(s.alive()).toBe(true);
      // liveness after the bomb: an ordinary message still crosses the same path
      const { reply: ok } = await sendRaw(s.port(alpha.submission), 'erin@beta.test', mime('erin@beta.test', `after-${files.length}`, 'hello\r\n', 'text/plain').replace(`From: <${from}>`, `From: <${alpha.user}>`), alpha);
      expect(ok).toMatch(/^250/);
      expect((await s.waitDelivered('beta.test', 'erin', files.length + 1, 20_000)).length).toBe(files.length + 1);
    });
  }
});
