// Resource limits against `mailbridge staging` in its own process: an oversized line, a 20 MB
// header block with no blank line, 10,000 pipelined recipients and MIME bombs (500-deep nesting,
// 5,000 parts) by SMTP and over PMTP. Each is refused or handled in bounded time; the process lives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawSmtp } from '../inbound-smtp/raw-smtp.js';
import { type Staging, startStaging } from './staging.js';

const from = 'carol@legacy.test';
const mime = (to: string, subject: string, body: string, type: string) =>
  `From: <${from}>\r\nTo: <${to}>\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@legacy.test>\r\nMIME-Version: 1.0\r\nContent-Type: ${type}\r\n\r\n${body}`;

/** 500 nested multipart/mixed levels around one text part. */
function deepBomb(to: string, depth = 500): string {
  let body = 'Content-Type: text/plain\r\n\r\ncore\r\n';
  for (let i = depth - 1; i >= 1; i--)
    body = `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n${body}--b${i}--\r\n`;
  return mime(to, 'deep', `--b0\r\n${body}--b0--\r\n`, 'multipart/mixed; boundary="b0"');
}

/** 5,000 tiny attachments in one multipart/mixed. */
function wideBomb(to: string, parts = 5000): string {
  const one = (i: number) =>
    `--w\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="p${i}.bin"\r\n\r\nx${i}\r\n`;
  return mime(
    to,
    'wide',
    `${Array.from({ length: parts }, (_, i) => one(i)).join('')}--w--\r\n`,
    'multipart/mixed; boundary="w"',
  );
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
  async function sendRaw(
    port: number,
    to: string,
    data: string | Buffer,
    auth?: { user: string; password: string },
  ): Promise<{ reply: string; next: string; ms: number }> {
    const c = await RawSmtp.connect(port);
    try {
      expect(await c.command('EHLO client.test')).toMatch(/^250/);
      if (auth)
        expect(
          await c.command(`AUTH PLAIN ${Buffer.from(`\0${auth.user}\0${auth.password}`).toString('base64')}`),
        ).toMatch(/^235/);
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
    const { reply, next } = await sendRaw(
      mx,
      'bob@alpha.test',
      mime('bob@alpha.test', 'long', `${'y'.repeat(100_000)}\r\n`, 'text/plain'),
    );
    expect(reply).toMatch(/^500 5\.5\.2 Line longer than 2048 bytes/);
    expect(next).toMatch(/^250/);
  });

  it('refuses a 20 MB header block with no blank line with 552 5.3.4, and stays up', async () => {
    const block = Buffer.from(`X-Filler: ${'h'.repeat(990)}\r\n`.repeat(20 * 1024));
    const { reply, next, ms } = await sendRaw(
      mx,
      'bob@alpha.test',
      Buffer.concat([Buffer.from(`From: <${from}>\r\n`), block]),
    );
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

  for (const [name, bomb, tag] of [
    ['500-deep nesting', deepBomb, 'deep'],
    ['5,000 parts', wideBomb, 'wide'],
  ] as const) {
    it(`MIME bomb (${name}) by SMTP to a native mailbox: delivered in bounded time, nothing crashes`, async () => {
      const before = (await s.delivered('alpha.test', 'bob')).length;
      const { reply, ms } = await sendRaw(mx, 'bob@alpha.test', bomb('bob@alpha.test'));
      expect(reply).toMatch(/^250 2\.0\.0 Ok: queued as /);
      const started = Date.now();
      const files = await s.waitDelivered('alpha.test', 'bob', before + 1, 10_000);
      console.log(
        `MIME bomb (${name}) smtp->maildir: DATA answered in ${ms} ms, delivered after ${Date.now() - started} ms`,
      );
      expect(files.some((f) => f.includes(`Message-ID: <${tag}@legacy.test>`))).toBe(true);
      expect(s.alive()).toBe(true);
    });
  }

  /** Submits `data` from alpha's postmaster to erin@beta.test; resolves with what reached erin or postmaster (a DSN) in time. */
  async function overPmtp(data: string, waitMs: number): Promise<{ erin: number; dsn: number; ms: number }> {
    const alpha = s.domains['alpha.test']!;
    const [erin, dsn] = [
      (await s.delivered('beta.test', 'erin')).length,
      (await s.delivered('alpha.test', 'postmaster')).length,
    ];
    const { reply } = await sendRaw(
      s.port(alpha.submission),
      'erin@beta.test',
      data.replace(`From: <${from}>`, `From: <${alpha.user}>`),
      alpha,
    );
    expect(reply).toMatch(/^250 2\.0\.0 Ok: queued as /);
    const started = Date.now();
    while (Date.now() - started < waitMs) {
      const now = [
        (await s.delivered('beta.test', 'erin')).length - erin,
        (await s.delivered('alpha.test', 'postmaster')).length - dsn,
      ];
      if (now[0]! + now[1]! > 0) return { erin: now[0]!, dsn: now[1]!, ms: Date.now() - started };
      await new Promise((r) => setTimeout(r, 100));
    }
    return { erin: 0, dsn: 0, ms: Date.now() - started };
  }

  it('MIME bomb (500-deep nesting) by submission to another staging domain crosses PMTP in bounded time', async () => {
    const outcome = await overPmtp(deepBomb('erin@beta.test'), 10_000);
    console.log(`MIME bomb (500-deep nesting) submission->PMTP->maildir: ${JSON.stringify(outcome)}`);
    expect(outcome.erin).toBe(1);
    expect(s.alive()).toBe(true);
  });

  // a former bug: past 1,000 MIME nodes the conversion never settled; now the recipient fails at
  // once and the authenticated sender gets a DSN in its own mailbox
  it('MIME bomb (5,000 parts) by submission to another staging domain: delivered or bounced in bounded time', async () => {
    const outcome = await overPmtp(wideBomb('erin@beta.test'), 6_000);
    console.log(`MIME bomb (5,000 parts) submission->PMTP: ${JSON.stringify(outcome)}`);
    expect(outcome.erin + outcome.dsn).toBe(1);
  });

  it('after both bombs, the process is up and an ordinary message still crosses PMTP', async () => {
    expect(s.alive()).toBe(true);
    const outcome = await overPmtp(mime('erin@beta.test', 'after-bombs', 'hello\r\n', 'text/plain'), 15_000);
    expect(outcome.erin).toBe(1);
  });
});
