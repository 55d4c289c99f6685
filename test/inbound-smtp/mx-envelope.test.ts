// The mx listener's envelope and size rules over raw sockets: every open-relay form gets a 5xx,
// answers are per recipient, SIZE is advertised and enforced (552, session still usable),
// line and header limits hold, and low disk space is a 452 at MAIL FROM.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, message, startHarness } from './harness.js';
import { smtpSource } from './peers.js';
import { RawSmtp } from './raw-smtp.js';

const limits = { max_line_bytes: 998, max_header_bytes: 4096 };

describe('mx listener: envelope and limits', () => {
  let h: Harness;
  let full: Harness;

  beforeAll(async () => {
    h = await startHarness({
      listeners: [
        { role: 'mx', ...limits },
        { role: 'mx', max_recipients: 2 },
      ],
      config: { limits: { message_size_bytes: 20_000 } },
    });
    full = await startHarness({
      listeners: [{ role: 'mx' }],
      config: { spool: { min_free_bytes: Number.MAX_SAFE_INTEGER } },
    });
  });
  afterAll(async () => {
    await Promise.all([h?.close(), full?.close()]);
  });

  async function rcpt(address: string): Promise<string> {
    const c = await RawSmtp.connect(h.port('mx'));
    try {
      await c.envelope('someone@elsewhere.test', []);
      return await c.command(`RCPT TO:${address}`);
    } finally {
      c.end();
    }
  }

  const relayForms = [
    '<victim@evil.test>',
    '<victim%evil.test@native.test>',
    '<evil.test!victim@native.test>',
    '<"victim@evil.test"@native.test>',
    '<"victim%evil.test"@native.test>',
    '<@native.test,@relay.test:victim@evil.test>',
    '<@native.test:victim@evil.test>',
    '<victim@[127.0.0.1]>',
    '<victim@[IPv6:::1]>',
    '<VICTIM@EVIL.TEST>',
    '<victim@evil.test.>',
    '<victim@native.test.evil.test>',
    '<victim@native.test@evil.test>',
    '<victim@xn--80ak6aa92e.test>',
  ];
  for (const form of relayForms) {
    it(`answers 5xx to the relay form RCPT TO:${form}`, async () => {
      expect(await rcpt(form)).toMatch(/^5\d\d /);
    });
  }

  it('accepts local domains in any case, and rejects unknown users of a listed domain with 550 5.1.1', async () => {
    expect(await rcpt('<User@NATIVE.test>')).toMatch(/^250 /);
    expect(await rcpt('<alice@Corp.Test>')).toMatch(/^250 /);
    expect(await rcpt('<mallory@corp.test>')).toBe(
      '550 5.1.1 Recipient address rejected: user unknown: mallory@corp.test: user unknown',
    );
  });

  it('answers each recipient on its own and keeps only the accepted ones', async () => {
    const c = await RawSmtp.connect(h.port('mx'));
    await c.envelope('someone@elsewhere.test', []);
    const answers = [];
    for (const to of ['a@native.test', 'x@evil.test', 'bob@corp.test', 'eve@corp.test'])
      answers.push((await c.command(`RCPT TO:<${to}>`)).slice(0, 3));
    expect(answers).toEqual(['250', '554', '250', '550']);
    expect(await c.command('DATA')).toMatch(/^354/);
    c.write(`${message('someone@elsewhere.test', 'a@native.test')}.\r\n`);
    const queued = /queued as (\S+)/.exec(await c.reply())?.[1];
    c.end();
    expect((await h.meta(queued!)).routes.map((r) => `${r.rcpt} ${r.kind}`)).toEqual([
      'a@native.test mailbox',
      'bob@corp.test postfix',
    ]);
  });

  it('answers 452 4.5.3 past max_recipients, but a repeated recipient does not count', async () => {
    const c = await RawSmtp.connect(h.port('mx', 1));
    await c.envelope('s@elsewhere.test', ['a@native.test', 'b@native.test', 'A@native.test']);
    expect(await c.command('RCPT TO:<c@native.test>')).toBe('452 4.5.3 Too many recipients');
    c.end();
  });

  it('advertises SIZE, answers 552 5.3.4 to an oversized message, and the next transaction still gets 250', async () => {
    const c = await RawSmtp.connect(h.port('mx'));
    expect(await c.command('EHLO client.test')).toContain('SIZE 20000');
    expect(await c.command('MAIL FROM:<s@elsewhere.test> SIZE=30000')).toMatch(/^552 /);
    const before = await h.entries();
    await c.envelope('s@elsewhere.test', ['user@native.test']);
    expect(await c.command('DATA')).toMatch(/^354/);
    c.write(message('s@elsewhere.test', 'user@native.test', `${'x'.repeat(900)}\r\n`.repeat(40)));
    c.write('.\r\n');
    expect(await c.reply()).toMatch(/^552 5\.3\.4 /);
    expect(await h.entries()).toEqual(before);
    expect(await c.command('MAIL FROM:<s@elsewhere.test>')).toMatch(/^250/);
    expect(await c.command('RCPT TO:<user@native.test>')).toMatch(/^250/);
    expect(await c.command('DATA')).toMatch(/^354/);
    c.write(`${message('s@elsewhere.test', 'user@native.test')}.\r\n`);
    expect(await c.reply()).toMatch(/^250 2\.0\.0 Ok: queued as /);
    c.end();
  });

  it('refuses a line longer than max_line_bytes and a header section over max_header_bytes', async () => {
    const c = await RawSmtp.connect(h.port('mx'));
    await c.envelope('s@elsewhere.test', ['user@native.test']);
    await c.command('DATA');
    c.write(`${message('s@elsewhere.test', 'user@native.test', 'y'.repeat(999))}.\r\n`);
    expect(await c.reply()).toMatch(/^500 5\.5\.2 Line longer than 998 bytes/);
    await c.envelope('s@elsewhere.test', ['user@native.test']);
    await c.command('DATA');
    c.write(
      `${message('s@elsewhere.test', 'user@native.test', 'ok', `X-Filler: ${'z'.repeat(900)}\r\n`.repeat(5))}.\r\n`,
    );
    expect(await c.reply()).toMatch(/^552 5\.3\.4 Header section exceeds 4096 bytes/);
    c.end();
  });

  it('answers 452 4.3.1 at MAIL FROM when the spool is short of space', async () => {
    const c = await RawSmtp.connect(full.port('mx'));
    await c.command('EHLO client.test');
    expect(await c.command('MAIL FROM:<s@elsewhere.test>')).toBe('452 4.3.1 Insufficient system storage');
    c.end();
  });

  it('takes a burst from Postfix smtp-source: 4 sessions x 10 messages, all durably queued', async () => {
    const before = (await h.entries()).length;
    const run = await smtpSource(h.port('mx'), [
      '-s',
      '4',
      '-m',
      '40',
      '-l',
      '2000',
      '-d',
      '-c',
      '-f',
      'bench@elsewhere.test',
      '-t',
      'user@native.test',
    ]);
    expect(run.code, run.out).toBe(0);
    expect((await h.entries()).length - before).toBe(40);
  });
});
