// DMARC alignment tricks over a real mx listener: a valid DKIM signature only counts when its d=
// aligns with the From domain (relaxed: same organizational domain; strict: same domain). Unrelated,
// look-alike and display-name signatures must not pass DMARC for the forged From.
import { generateKeyPairSync } from 'node:crypto';
import { dkimSign } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, message, startHarness } from '../inbound-smtp/harness.js';
import { swaksRaw, swaksReplies } from '../inbound-smtp/peers.js';
import { tempDir } from '../support/tmp.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const p = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const signers = [
  'sender.test',
  'sub.sender.test',
  'unrelated.test',
  'sender.test.unrelated.test',
  'strict.test',
  'sub.strict.test',
];
const zone = [
  ...signers.map((d) => `s1._domainkey.${d}. TXT ( "v=DKIM1; k=rsa; p=${p.slice(0, 200)}" "${p.slice(200)}" )`),
  'sender.test. TXT "v=spf1 -all"',
  '_dmarc.sender.test. TXT "v=DMARC1; p=reject"',
  'strict.test. TXT "v=spf1 -all"',
  '_dmarc.strict.test. TXT "v=DMARC1; p=reject; adkim=s"',
  'unrelated.test. TXT "v=spf1 -all"',
  '',
].join('\n');

async function signedBy(domain: string, raw: string): Promise<string> {
  const key = privateKey.export({ type: 'pkcs8', format: 'pem' });
  const { signatures, errors } = await dkimSign(raw, {
    signatureData: [{ signingDomain: domain, selector: 's1', privateKey: key }],
  } as never);
  if (errors.length > 0) throw new Error(`signing failed: ${String(errors[0])}`);
  return signatures + raw;
}

describe('attacks: DKIM/DMARC alignment', () => {
  let h: Harness;
  let dir: string;
  let removeDir: () => Promise<void>;

  beforeAll(async () => {
    ({ dir, remove: removeDir } = await tempDir('align'));
    h = await startHarness({ listeners: [{ role: 'mx' }], zone });
  });
  afterAll(async () => {
    await h?.close();
    await removeDir();
  });

  /** Sends From `from` signed by `d`; returns the final reply and, when queued, the verdict. */
  async function attempt(from: string, d: string, raw = message(from, 'user@native.test')) {
    const run = await swaksRaw(
      h.port('mx'),
      'bounce@unrelated.test',
      'user@native.test',
      `${await signedBy(d, raw)}.`,
      dir,
    );
    const reply = swaksReplies(run.out).at(-2) ?? '';
    const id = /^250 2\.0\.0 Ok: queued as (\S+)$/.exec(reply)?.[1];
    return { reply, verdict: id ? (await h.meta(id)).senderAuth.verdict : undefined };
  }

  it('a signature by an unrelated domain does not pass DMARC for the From domain (550 5.7.1)', async () => {
    expect((await attempt('ceo@sender.test', 'unrelated.test')).reply).toMatch(/^550 5\.7\.1 Rejected by DMARC policy/);
  });

  it('a look-alike signer (sender.test.unrelated.test) is not aligned with sender.test', async () => {
    expect((await attempt('ceo@sender.test', 'sender.test.unrelated.test')).reply).toMatch(
      /^550 5\.7\.1 Rejected by DMARC policy/,
    );
  });

  it('relaxed alignment: d= a subdomain, or the organizational domain of a subdomain From, passes', async () => {
    const down = await attempt('news@sender.test', 'sub.sender.test');
    expect(down.verdict).toMatchObject({ action: 'accept', dmarc: 'pass', fromDomain: 'sender.test' });
    const up = await attempt('news@sub.sender.test', 'sender.test');
    expect(up.verdict).toMatchObject({ action: 'accept', dmarc: 'pass', fromDomain: 'sub.sender.test' });
  });

  // mailauth 4.13.3 getAlignment() compares organizational domains even when strict, so
  // sender-verdict checks adkim=s / aspf=s itself
  it('strict alignment (adkim=s): a subdomain signature does not pass for the parent', async () => {
    expect((await attempt('ceo@strict.test', 'sub.strict.test')).reply).toMatch(
      /^550 5\.7\.1 Rejected by DMARC policy/,
    );
  });

  it('strict alignment (adkim=s): the exact domain passes', async () => {
    expect((await attempt('ceo@strict.test', 'strict.test')).verdict).toMatchObject({
      action: 'accept',
      dmarc: 'pass',
    });
  });

  it('a display name spelling a protected address is judged by the real From domain', async () => {
    const raw = message('x@unrelated.test', 'user@native.test').replace(
      'From: <x@unrelated.test>',
      'From: "ceo@sender.test" <x@unrelated.test>',
    );
    const { verdict } = await attempt('x@unrelated.test', 'unrelated.test', raw);
    expect(verdict?.fromDomain).toBe('unrelated.test');
  });

  it('a From with two addresses, one protected, is refused even when the signer matches the other', async () => {
    const raw = message('x@unrelated.test', 'user@native.test').replace(
      'From: <x@unrelated.test>',
      'From: <x@unrelated.test>, <ceo@sender.test>',
    );
    expect((await attempt('x@unrelated.test', 'unrelated.test', raw)).reply).toMatch(/^550 5\.7\.1 /);
  });
});
