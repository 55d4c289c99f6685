// Header splitting: a bare CR or LF inside a header field, sent as raw bytes to a real gateway with
// `bare_newlines: reject` and `normalise`, must never leave two From lines (or a forged header
// line) in the delivered Maildir file; `reject` must refuse the message outright.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawSmtp } from '../inbound-smtp/raw-smtp.js';
import { startMailbridge, type TestMailbridge } from '../support/mailbridge.js';
import { freePort } from '../support/smtp-sink.js';
import { tempDir } from '../support/tmp.js';

const splits: Record<string, string> = {
  'bare CR in Subject': 'Subject: hi\rFrom: <ceo@bank.test>\r\n',
  'bare LF in Subject': 'Subject: hi\nFrom: <ceo@bank.test>\r\n',
  'bare LF + space (looks folded)': 'Subject: hi\n From: <ceo@bank.test>\r\n',
  'bare CR in From display name': 'From: "x\rFrom: <ceo@bank.test>" <a@sender.test>\r\nSubject: hi\r\n',
  'CR CR LF in Subject': 'Subject: hi\r\r\nFrom: <ceo@bank.test>\r\n',
  'bare LF before the blank line': 'Subject: hi\n\nFrom: <ceo@bank.test>\r\n',
};

/** From fields of the header section (a split that ends the header early moves text to the body, which is harmless). */
const fromLines = (text: string) =>
  text
    .slice(0, text.indexOf('\r\n\r\n'))
    .split('\r\n')
    .filter((l) => /^from\s*:/i.test(l));

describe('attacks: header splitting', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let mb: TestMailbridge;
  let users = 0;
  const ports = { reject: 0, normalise: 0 };

  beforeAll(async () => {
    ({ dir, remove } = await tempDir('hsplit'));
    await writeFile(
      path.join(dir, 'zone.txt'),
      'sender.test. TXT "v=spf1 ip4:127.0.0.1 -all"\n_dmarc.sender.test. TXT "v=DMARC1; p=none"\n',
    );
    ports.reject = await freePort();
    ports.normalise = await freePort();
    mb = await startMailbridge(dir, {
      hostname: 'mx.gw.test',
      spool: { dir: 'spool' },
      dns: { zone_file: 'zone.txt' },
      domains: { mailbox: ['native.test'] },
      mailbox: { maildir_root: 'mail' },
      smtp: {
        listeners: [
          { role: 'mx', host: '127.0.0.1', port: ports.reject },
          { role: 'mx', host: '127.0.0.1', port: ports.normalise, bare_newlines: 'normalise' },
        ],
      },
    });
  });
  afterAll(async () => {
    await mb?.stop();
    await remove?.();
  });

  async function send(port: number, to: string, header: string): Promise<string> {
    const c = await RawSmtp.connect(port);
    try {
      for (const line of ['EHLO client.test', 'MAIL FROM:<a@sender.test>', `RCPT TO:<${to}>`, 'DATA'])
        await c.command(line);
      const first = header.startsWith('From:') ? '' : 'From: <a@sender.test>\r\n';
      c.write(`${first}To: <${to}>\r\nMessage-ID: <${to}>\r\n${header}\r\nbody\r\n.\r\n`);
      return await c.reply();
    } finally {
      c.end();
    }
  }

  async function delivered(user: string, timeoutMs: number): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [file] = await mb.delivered('native.test', user);
      if (file || Date.now() > deadline) return file?.toString('latin1');
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  for (const [name, header] of Object.entries(splits)) {
    it(`reject: ${name} is refused with 550 5.5.2 and never delivered`, async () => {
      const user = `r${users++}`;
      expect(await send(ports.reject, `${user}@native.test`, header)).toMatch(/^550 5\.5\.2 /);
      expect(await delivered(user, 300)).toBeUndefined();
    });

    it(`normalise: ${name} never yields two From lines in the Maildir file`, async () => {
      await expectOneFrom(ports.normalise, header);
    });
  }

  // The same split spelled with proper CRLFs, so newline hygiene cannot help: From fields are counted.
  it('two From fields, the first without a parseable address, are refused or never delivered as two', async () => {
    await expectOneFrom(ports.reject, 'From: "x\r\nFrom: <ceo@bank.test>" <a@sender.test>\r\nSubject: hi\r\n');
  });

  /** Either a 5xx, or a delivered file with exactly one From field and CRLF line ends only. */
  async function expectOneFrom(port: number, header: string): Promise<void> {
    const user = `n${users++}`;
    const reply = await send(port, `${user}@native.test`, header);
    if (!reply.startsWith('250')) {
      expect(reply).toMatch(/^5\d\d /);
      return;
    }
    const text = await delivered(user, 10_000);
    expect(text, `accepted (${reply}) but not delivered`).toBeDefined();
    expect(fromLines(text!)).toHaveLength(1);
    expect(/\r(?!\n)|(?<!\r)\n/.test(text!)).toBe(false);
  }
});
