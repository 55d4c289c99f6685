// Real-world MIME across the staging network, as issue 13 asks: a message with non-ASCII words, a
// list's header fields, an alternative body, a forwarded message and a binary attachment, submitted
// at alpha and delivered at beta over PMTP, arrives byte for byte below the fields beta adds on top,
// first contact included, with beta's PMTP-Trust naming an aligned author.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Staging, startStaging } from '../attacks/staging.js';
import { swaksRaw, swaksReplies } from '../inbound-smtp/peers.js';
import { tempDir } from '../support/tmp.js';

function realWorld(from: string): Buffer {
  const attachment = Buffer.from(Array.from({ length: 1500 }, (_, i) => (i * 131) % 256))
    .toString('base64')
    .replace(/.{76}/g, '$&\r\n');
  const lines = [
    `From: =?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <${from}>`,
    'To: "Erin (beta)" <erin@beta.test>',
    'Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgTcO8bmNoZW4g4piV?=',
    'Date: Thu, 01 Jan 2026 09:30:00 +0100',
    'Message-ID: <real-world-1@alpha.test>',
    'List-Id: "Staging announcements" <announce.alpha.test>',
    'List-Unsubscribe: <mailto:announce-leave@alpha.test>',
    'Thread-Topic: a header long enough to be folded by the client that wrote it, as mail clients',
    ' do when a line gets past seventy-eight characters',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="outer"',
    '',
    'This is a multi-part message in MIME format.',
    '--outer',
    'Content-Type: multipart/alternative; boundary="alt"',
    '',
    '--alt',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Grüße aus München ☕',
    '..a line that starts with a dot',
    '--alt',
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    '<p>Gr=C3=BC=C3=9Fe aus M=C3=BCnchen</p>',
    '--alt--',
    '--outer',
    'Content-Type: message/rfc822',
    'Content-Disposition: inline',
    '',
    'From: someone@legacy.test',
    'Subject: the forwarded one',
    '',
    'Forwarded body.',
    '--outer',
    'Content-Type: application/octet-stream; name="data.bin"',
    'Content-Disposition: attachment; filename="data.bin"',
    'Content-Transfer-Encoding: base64',
    '',
    attachment,
    '--outer--',
    '.',
  ];
  return Buffer.from(`${lines.join('\r\n')}\r\n`, 'utf8');
}

describe('staging: real-world MIME over PMTP', () => {
  let s: Staging;
  let dir: string;
  let remove: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, remove } = await tempDir('real-world-mime'));
    s = await startStaging(['alpha.test', 'beta.test']);
  });
  afterAll(async () => {
    await s?.stop();
    await remove();
  });

  it('arrives byte for byte below the fields the receiving gateway adds', async () => {
    const alpha = s.domains['alpha.test']!;
    const message = realWorld(alpha.user);
    const auth = ['--auth', 'PLAIN', '--auth-user', alpha.user, '--auth-password', alpha.password];
    const run = await swaksRaw(s.port(alpha.submission), alpha.user, 'erin@beta.test', message, dir, auth);
    expect(swaksReplies(run.out).at(-2), run.out).toMatch(/^250 2\.0\.0 Ok: queued as/);
    const [copy] = await s.waitDelivered('beta.test', 'erin', 1, 30_000);
    expect(copy, 'delivered at beta').toBeDefined();
    // the submitted message without its end-of-data line, and with the client's dot-stuffing undone
    const submitted = message
      .subarray(0, message.length - 3)
      .toString('latin1')
      .replace(/^\.\./m, '.');
    expect(copy!.endsWith(submitted)).toBe(true);
    const added = copy!.slice(0, copy!.length - submitted.length);
    const names = added.split(/\r\n(?![ \t])/).map((f) => f.slice(0, f.indexOf(':')));
    expect(names.filter((n) => n !== '')).toEqual(
      expect.arrayContaining(['Authentication-Results', 'PMTP-Trust', 'Received']),
    );
    // beta has never heard from alpha's postmaster: first contact asked for work, alpha solved it
    expect(added).toContain('PMTP-Trust: challenged; author=aligned; origin=alpha.test');
  });
});
