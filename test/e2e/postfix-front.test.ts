// docs/postfix.md recipe (b): the organisation's Postfix hands mail to mailbridge's relay-in, with
// XFORWARD: PMTP-capable domains by transport_maps (here a native domain: Maildir on our side),
// everything else by relayhost (out to a legacy Postfix by MX, DKIM-signed with the org's key).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { dkimVerify } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeDkimKey, type TestDkimKey } from '../support/dkim-key.js';
import {
  fromFirstLine,
  mainCf,
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

const message = (to: string, id: string): string =>
  [
    `From: Dave <dave@org.example>`,
    `To: <${to}>`,
    `Subject: recipe b ${id}`,
    'Date: Tue, 24 Nov 2026 01:00:00 +0000',
    `Message-ID: <${id}@org.example>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    `Hello ${to},`,
    '.dot-stuffed line',
    '',
  ].join('\n');

describe('recipe (b): Postfix in front, relaying to mailbridge relay-in', () => {
  let front: PrivatePostfix;
  let legacy: PrivatePostfix;
  let mailbridge: TestMailbridge;
  let key: TestDkimKey;
  let relayhostLine: Record<string, string>;
  let dir: string;
  let remove: () => Promise<void>;
  // the outside client stands at 127.0.0.2; Postfix and mailbridge talk over 127.0.0.1
  const send = async (to: string, id: string): Promise<string> => {
    const file = path.join(dir, `${id}.eml`);
    await writeFile(file, message(to, id).slice(0, -1)); // swaks adds the last CRLF itself
    return sendWithSwaks({
      server: `127.0.0.1:${front.port}`,
      localInterface: '127.0.0.2',
      ehlo: 'laptop.org.example',
      from: 'dave@org.example',
      to,
      data: file,
    });
  };
  const logs = async (): Promise<string> => (await mailbridge.log()) + (await front.log()) + (await legacy.log());

  beforeAll(async () => {
    ({ dir, remove } = await tempDir('recipe-b'));
    key = await makeDkimKey(dir, 'org.example', 'mb1');
    legacy = await startPostfix({ domain: 'legacy.example', users: ['carol'] });
    const relayIn = await freePort();
    // the recipe's main.cf lines and transport table, with the test's port and config directory
    const docs = async (i: number): Promise<string> =>
      (await recipeBlock('b', '', i))
        .replaceAll('10025', String(relayIn))
        .replaceAll('/etc/postfix/', '$config_directory/');
    // relayhost waits for its own test, so the first one shows transport_maps alone at work
    const { relayhost, ...main } = mainCf(await docs(0));
    relayhostLine = { relayhost: relayhost! };
    front = await startPostfix({ domain: 'org.example', main, maps: { transport: await docs(1) } });
    await writeFile(
      path.join(dir, 'zone.txt'),
      [
        'org.example. TXT "v=spf1 ip4:127.0.0.2 -all"',
        '_dmarc.org.example. TXT "v=DMARC1; p=reject"',
        'legacy.example. MX 10 mx.legacy.example.',
        'mx.legacy.example. A 127.0.0.1',
        '',
      ].join('\n'),
    );
    // the recipe's YAML from docs/postfix.md, on test ports and paths, with offline DNS
    const recipe = await recipeYaml('b');
    mailbridge = await startMailbridge(dir, {
      ...recipe,
      spool: { dir: 'spool' },
      dns: { zone_file: 'zone.txt' },
      smtp: { ...recipe.smtp, listeners: recipe.smtp.listeners.map((l) => ({ ...l, port: relayIn })) },
      mailbox: { maildir_root: 'mail' },
      dkim: { ...(recipe.dkim as object), key_file: key.keyFile },
      outbound: { port_map: { 'mx.legacy.example': legacy.port } },
    });
  });
  afterAll(async () => {
    await mailbridge?.stop();
    await front?.stop();
    await legacy?.stop();
    await remove?.();
  });

  it('transport_maps: mail for a PMTP domain lands in its mailbridge Maildir, judged by the XFORWARD client', async () => {
    expect(await send('erin@native.example', 'to-native')).toMatch(/<- +250 2\.0\.0 Ok: queued as /);
    const [stored] = await waitForFiles(() => mailbridge.delivered('native.example', 'erin'), 1, logs);
    const text = stored!.toString();
    // SPF passes only for 127.0.0.2: the verdict used XFORWARD ADDR, not the Postfix socket
    expect(text).toMatch(
      /^Authentication-Results: gw\.org\.example;[\s\S]*spf=pass \([^)]*127\.0\.0\.2[^)]*\) smtp\.mailfrom=dave@org\.example[\s\S]*dmarc=pass/m,
    );
    expect(text).toMatch(
      /^Received: from laptop\.org\.example \(\[127\.0\.0\.2\]\) \(via \[127\.0\.0\.1\]\)\r\n\tby gw\.org\.example \(mailbridge\) with ESMTP id /m,
    );
    // Postfix's own Received sits below ours, then the message exactly as the client sent it
    expect(text).toMatch(
      /^Received: from laptop\.org\.example \(unknown \[127\.0\.0\.2\]\)\r\n\tby mx\.org\.example \(Postfix\) with ESMTP id /m,
    );
    expect(fromFirstLine(stored!, message('erin@native.example', 'to-native'))).toBe(
      message('erin@native.example', 'to-native').replace(/\n/g, '\r\n'),
    );
  });

  it('relayhost: mail for the legacy internet leaves through mailbridge, DKIM-signed, to the MX', async () => {
    await front.reconfigure(relayhostLine);
    expect(await send('carol@legacy.example', 'to-legacy')).toMatch(/<- +250 2\.0\.0 Ok: queued as /);
    const [stored] = await waitForFiles(() => legacy.delivered('carol'), 1, logs);
    const text = stored!.toString();
    expect(text).toMatch(
      /^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=org\.example;\s+q=dns\/txt; s=mb1;/m,
    );
    expect(text).toMatch(
      /^Received: from gw\.org\.example \(unknown \[127\.0\.0\.1\]\)[\s\S]*?\tby mx\.legacy\.example \(Postfix\) with ESMTPS? id /m,
    );
    expect(text).toMatch(
      /^Received: from laptop\.org\.example \(\[127\.0\.0\.2\]\) \(via \[127\.0\.0\.1\]\)\n\tby gw\.org\.example \(mailbridge\)/m,
    );
    expect(fromFirstLine(stored!, message('carol@legacy.example', 'to-legacy'))).toBe(
      message('carol@legacy.example', 'to-legacy'),
    );
    const verdict = await dkimVerify(stored!, { resolver: key.resolver });
    expect(verdict.results.map((r) => [r.signingDomain, r.status.result])).toEqual([['org.example', 'pass']]);
  });
});
