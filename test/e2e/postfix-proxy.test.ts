// docs/postfix.md recipe (c): Postfix's smtpd on the public port runs mailbridge as a before-queue
// filter (smtpd_proxy_filter, XFORWARD to relay-in): the outside client hears mailbridge's own
// verdict, and accepted mail for Postfix users comes back through a reinjection smtpd to Maildir.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  fromFirstLine,
  recipeBlock,
  recipeYaml,
  startMailbridge,
  type TestMailbridge,
  waitForFiles,
} from '../support/mailbridge.js';
import { type PrivatePostfix, startPostfix } from '../support/postfix.js';
import { freePort } from '../support/smtp-sink.js';
import { sendWithSwaks } from '../support/swaks.js';
import { tempDir } from '../support/tmp.js';

const message = (from: string, id: string): string =>
  [
    `From: <${from}>`,
    'To: Alice <alice@legacy.example>',
    `Subject: recipe c ${id}`,
    'Date: Tue, 24 Nov 2026 01:00:00 +0000',
    `Message-ID: <${id}@sender.example>`,
    '',
    'Hello Alice,',
    '.dot-stuffed line',
    '',
  ].join('\n');

describe('recipe (c): Postfix smtpd_proxy_filter in front of mailbridge', () => {
  let postfix: PrivatePostfix;
  let mailbridge: TestMailbridge;
  let dir: string;
  let remove: () => Promise<void>;
  const send = async (from: string, to: string, id: string): Promise<string> => {
    const file = path.join(dir, `${id}.eml`);
    await writeFile(file, message(from, id).slice(0, -1)); // swaks adds the last CRLF itself
    return sendWithSwaks({
      server: `127.0.0.1:${postfix.port}`,
      localInterface: '127.0.0.2',
      ehlo: 'out.sender.example',
      from,
      to,
      data: file,
    });
  };

  beforeAll(async () => {
    ({ dir, remove } = await tempDir('recipe-c'));
    const [filter, reinject] = [await freePort(), await freePort()];
    // the recipe's master.cf: -o lines of the public smtpd, then the reinjection service, on test ports
    const master = (await recipeBlock('c', '', 0))
      .replaceAll('10025', String(filter))
      .replaceAll('10026', String(reinject));
    const [publicSmtpd, reinjection] = master.split(/^(?=\S)/m).slice(0, 2);
    const smtpd = Object.fromEntries([...publicSmtpd!.matchAll(/^\s+-o (\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
    postfix = await startPostfix({
      domain: 'legacy.example',
      users: ['alice'],
      // the outside client (127.0.0.2) is not in mynetworks; mailbridge (127.0.0.1) is
      mynetworks: '127.0.0.1/32',
      smtpd,
      master: reinjection,
    });
    await writeFile(
      path.join(dir, 'zone.txt'),
      [
        'sender.example. TXT "v=spf1 ip4:127.0.0.2 -all"',
        '_dmarc.sender.example. TXT "v=DMARC1; p=reject"',
        'strict.example. TXT "v=spf1 -all"',
        '_dmarc.strict.example. TXT "v=DMARC1; p=reject"',
        '',
      ].join('\n'),
    );
    // the recipe's YAML from docs/postfix.md, on test ports and paths, with offline DNS
    const recipe = await recipeYaml('c');
    mailbridge = await startMailbridge(dir, {
      ...recipe,
      spool: { dir: 'spool' },
      dns: { zone_file: 'zone.txt' },
      smtp: { ...recipe.smtp, listeners: recipe.smtp.listeners.map((l) => ({ ...l, port: filter })) },
      domains: {
        ...recipe.domains,
        postfix: { 'legacy.example': { ...recipe.domains.postfix!['legacy.example'], port: reinject } },
      },
    });
  });
  afterAll(async () => {
    await mailbridge?.stop();
    await postfix?.stop();
    await remove?.();
  });

  it('answers with mailbridge’s 250 and delivers through the reinjection smtpd to Maildir', async () => {
    expect(await send('bob@sender.example', 'alice@legacy.example', 'accepted')).toMatch(
      /<- +250 2\.0\.0 Ok: queued as [0-9A-Za-z]{18}\r?$/m,
    );
    const [stored] = await waitForFiles(
      () => postfix.delivered('alice'),
      1,
      async () => (await mailbridge.log()) + (await postfix.log()),
    );
    const text = stored!.toString();
    expect(text).toMatch(
      /^Authentication-Results: mx\.legacy\.example;[\s\S]*spf=pass \([^)]*127\.0\.0\.2[^)]*\) smtp\.mailfrom=bob@sender\.example[\s\S]*dmarc=pass/m,
    );
    expect(text).toMatch(
      /^Received: from out\.sender\.example \(\[127\.0\.0\.2\]\) \(via \[127\.0\.0\.1\]\)\n\tby mx\.legacy\.example \(mailbridge\)/m,
    );
    expect(fromFirstLine(stored!, message('bob@sender.example', 'accepted'))).toBe(
      message('bob@sender.example', 'accepted'),
    );
  });

  it('passes mailbridge’s DMARC rejection to the client before Postfix queues anything', async () => {
    const transcript = await send('mallory@strict.example', 'alice@legacy.example', 'rejected');
    expect(transcript).toMatch(/<\*\* +550 5\.7\.1 /);
    await new Promise((r) => setTimeout(r, 500));
    expect((await postfix.delivered('alice')).map(String).filter((m) => m.includes('recipe c rejected'))).toEqual([]);
  });

  it('leaves relay control to Postfix: an outsider cannot relay through the filter', async () => {
    expect(await send('bob@sender.example', 'someone@elsewhere.example', 'relay')).toMatch(
      /<\*\* +454 4\.7\.1 <someone@elsewhere\.example>: Relay access denied/,
    );
  });
});
