// SMTP smuggling (CVE-2023-51764 family): no bare-LF or bare-CR "end of data" variant, sent
// plainly or pipelined, raw or through swaks, ever turns one transaction into two messages.
// `reject` answers 550 5.5.2 and keeps nothing; `normalise` keeps one message, CRLF only.
import { buffer } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/tmp.js';
import { type Harness, message, startHarness } from './harness.js';
import { swaksRaw, swaksReplies } from './peers.js';
import { RawSmtp } from './raw-smtp.js';

const variants: Record<string, string> = {
  'LF . LF': '\n.\n',
  'LF . CRLF': '\n.\r\n',
  'CR . CR': '\r.\r',
  'CRLF . LF': '\r\n.\n',
  'CR . CRLF': '\r.\r\n',
  'LF . CR': '\n.\r',
};
const smuggled =
  'MAIL FROM:<evil@evil.test>\r\nRCPT TO:<user@native.test>\r\nDATA\r\nFrom: <ceo@native.test>\r\nSubject: smuggled\r\n\r\nsmuggled\r\n';
const payload = (end: string): string =>
  `${message('a@elsewhere.test', 'user@native.test', `first${end}${smuggled}`)}.\r\n`;
const envelope = 'EHLO client.test\r\nMAIL FROM:<a@elsewhere.test>\r\nRCPT TO:<user@native.test>\r\nDATA\r\n';

describe('smuggling', () => {
  let h: Harness;
  let dir: string;
  let removeDir: () => Promise<void>;
  const ports = { reject: 0, normalise: 0 };

  beforeAll(async () => {
    ({ dir, remove: removeDir } = await tempDir('smuggle'));
    h = await startHarness({ listeners: [{ role: 'mx' }, { role: 'mx', bare_newlines: 'normalise' }] });
    ports.reject = h.port('mx', 0);
    ports.normalise = h.port('mx', 1);
  });
  afterAll(async () => {
    await h?.close();
    await removeDir();
  });

  /** Runs one session and returns every reply after the greeting, up to the server's close. */
  async function session(port: number, end: string, pipelined: boolean): Promise<string[]> {
    const c = await RawSmtp.connect(port);
    const replies: string[] = [];
    if (pipelined) {
      c.write(`${envelope + payload(end)}QUIT\r\n`);
    } else {
      for (const line of envelope.trim().split('\r\n')) replies.push(await c.command(line));
      c.write(payload(end));
      replies.push(await c.reply());
      c.write('QUIT\r\n');
    }
    for (let r = await c.reply(); r !== ''; r = await c.reply()) replies.push(r);
    return replies.map((r) => r.split('\n').at(-1)!.slice(0, 3));
  }

  for (const [name, end] of Object.entries(variants)) {
    for (const pipelined of [false, true]) {
      const mode = pipelined ? 'pipelined' : 'plain';
      it(`reject: <${name}> (${mode}) gets one 550 5.5.2 and no message`, async () => {
        const before = await h.entries();
        expect(await session(ports.reject, end, pipelined)).toEqual(['250', '250', '250', '354', '550', '221']);
        expect(await h.entries()).toEqual(before);
      });

      it(`normalise: <${name}> (${mode}) yields exactly one message, CRLF only`, async () => {
        const before = await h.entries();
        expect(await session(ports.normalise, end, pipelined)).toEqual(['250', '250', '250', '354', '250', '221']);
        const added = (await h.entries()).filter((e) => !before.includes(e));
        expect(added).toHaveLength(1);
        const body = (await buffer((await h.spool.openBody(added[0]!)).stream)).toString('latin1');
        expect(body).toContain('first\r\n.\r\n');
        expect(body).toContain(smuggled);
        expect(/\r(?!\n)|(?<!\r)\n/.test(body)).toBe(false);
      });
    }
  }

  it('swaks with bare LF lines, plain and pipelined: 550 5.5.2, nothing kept', async () => {
    const before = await h.entries();
    const data = `From: <a@elsewhere.test>\nTo: <user@native.test>\nSubject: lf\n\nbody\n.\n${smuggled}.`;
    for (const extra of [[], ['--pipeline']]) {
      const run = await swaksRaw(ports.reject, 'a@elsewhere.test', 'user@native.test', data, dir, extra);
      const replies = swaksReplies(run.out);
      expect(replies.filter((r) => r.startsWith('550 5.5.2'))).toHaveLength(1);
      expect(replies.filter((r) => r.startsWith('354'))).toHaveLength(1);
    }
    expect(await h.entries()).toEqual(before);
  });

  it('swaks against normalise: one message per transaction', async () => {
    const before = (await h.entries()).length;
    const data = `From: <a@elsewhere.test>\rTo: <user@native.test>\r\nSubject: cr\n\nbody\r.\r${smuggled}.`;
    const run = await swaksRaw(ports.normalise, 'a@elsewhere.test', 'user@native.test', data, dir, ['--pipeline']);
    expect(swaksReplies(run.out).filter((r) => r.startsWith('250 2.0.0 Ok: queued'))).toHaveLength(1);
    expect((await h.entries()).length - before).toBe(1);
  });
});
