// docs/postfix.md recipe (a): mailbridge is the MX and relays accepted mail for Postfix-hosted
// users (`domains.postfix`) to a real private Postfix on a loopback port, which delivers to Maildir.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fromFirstLine,
  recipeYaml,
  startMailbridge,
  type TestMailbridge,
  waitForFiles,
} from '../support/mailbridge.js';
import { type PrivatePostfix, startPostfix } from '../support/postfix.js';
import { sendWithSwaks } from '../support/swaks.js';
import { tempDir } from '../support/tmp.js';

const message = [
  'From: Bob <bob@sender.example>',
  'To: Alice <alice@legacy.example>',
  'Subject: recipe a',
  'Date: Tue, 24 Nov 2026 01:00:00 +0000',
  'Message-ID: <recipe-a@sender.example>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=us-ascii',
  '',
  'Hello Alice,',
  '.a line that starts with a dot',
  'Bye.',
  '',
].join('\n');

describe('recipe (a): mailbridge as MX, Postfix behind it', () => {
  let postfix: PrivatePostfix;
  let mailbridge: TestMailbridge;
  let dir: string;
  let remove: () => Promise<void>;

  beforeAll(async () => {
    ({ dir, remove } = await tempDir('recipe-a'));
    postfix = await startPostfix({ domain: 'legacy.example', users: ['alice'], mynetworks: '127.0.0.1/32' });
    await writeFile(
      path.join(dir, 'zone.txt'),
      ['sender.example. TXT "v=spf1 ip4:127.0.0.2 -all"', '_dmarc.sender.example. TXT "v=DMARC1; p=reject"', ''].join(
        '\n',
      ),
    );
    // swaks adds CRLF before the final dot itself, so the file leaves off the last line end
    await writeFile(path.join(dir, 'message.eml'), message.slice(0, -1));
    // the recipe's YAML from docs/postfix.md, on test ports and paths, with offline DNS
    const recipe = await recipeYaml('a');
    mailbridge = await startMailbridge(dir, {
      ...recipe,
      spool: { dir: 'spool' },
      dns: { zone_file: 'zone.txt' },
      smtp: { ...recipe.smtp, listeners: recipe.smtp.listeners.map((l) => ({ ...l, host: '127.0.0.1', port: 0 })) },
      domains: {
        ...recipe.domains,
        postfix: { 'legacy.example': { ...recipe.domains.postfix!['legacy.example'], port: postfix.port } },
      },
    });
  });
  afterAll(async () => {
    await mailbridge?.stop();
    await postfix?.stop();
    await remove?.();
  });

  it('checks the sender, answers 250, and the bytes land in the Postfix user Maildir', async () => {
    const transcript = await sendWithSwaks({
      server: `127.0.0.1:${mailbridge.port('mx')}`,
      localInterface: '127.0.0.2',
      ehlo: 'out.sender.example',
      from: 'bob@sender.example',
      to: 'alice@legacy.example',
      data: path.join(dir, 'message.eml'),
    });
    expect(transcript).toMatch(/<- +250 2\.0\.0 Ok: queued as /);
    const [stored] = await waitForFiles(
      () => postfix.delivered('alice'),
      1,
      async () => (await mailbridge.log()) + (await postfix.log()),
    );
    const text = stored!.toString();
    expect(text).toMatch(/^Delivered-To: alice@legacy\.example$/m);
    // mailbridge took Postfix's STARTTLS offer (opportunistic: the certificate is self-signed)
    expect(text).toMatch(
      /^Received: from mx\.legacy\.example \(unknown \[127\.0\.0\.1\]\)\n\t\(using TLSv1\.[23] [\s\S]*?\tby mx\.legacy\.example \(Postfix\) with ESMTPS id /m,
    );
    // mailbridge's verdicts and trace, made when it took the message from the outside client
    expect(text).toMatch(
      /^Authentication-Results: mx\.legacy\.example;[\s\S]*spf=pass \([^)]*\) smtp\.mailfrom=bob@sender\.example[\s\S]*dmarc=pass/m,
    );
    expect(text).toMatch(
      /^Received: from out\.sender\.example \(\[127\.0\.0\.2\]\)\n\tby mx\.legacy\.example \(mailbridge\) with ESMTP id /m,
    );
    // the mailbox can tell mail that came over SMTP from mail PMTP first contact let in
    expect(text).toMatch(/^PMTP-Trust: smtp$/m);
    expect(fromFirstLine(stored!, message)).toBe(message);
  });

  it('refuses at RCPT a user Postfix does not have, and relaying anywhere else', async () => {
    const server = `127.0.0.1:${mailbridge.port('mx')}`;
    const unknown = await sendWithSwaks({
      server,
      localInterface: '127.0.0.2',
      from: 'bob@sender.example',
      to: 'nobody@legacy.example',
      subject: 'x',
    });
    expect(unknown).toMatch(/<\*\* +550 5\.1\.1 /);
    const relay = await sendWithSwaks({
      server,
      localInterface: '127.0.0.2',
      from: 'bob@sender.example',
      to: 'someone@elsewhere.example',
      subject: 'x',
    });
    expect(relay).toMatch(/<\*\* +554 5\.7\.1 /);
  });
});
