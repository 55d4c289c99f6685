// The mx listener against real peers: SPF/DKIM/DMARC from an offline zone the test writes,
// signed with a key the test makes. 250 only for what passes; the spooled bytes are exactly
// the bytes sent, with the verdicts and Authentication-Results in the meta.
import { generateKeyPairSync } from 'node:crypto';
import { buffer } from 'node:stream/consumers';
import { dkimSign } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../support/tmp.js';
import { type Harness, message, startHarness } from './harness.js';
import { swaksRaw, swaksReplies } from './peers.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const p = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const zone = `
$ORIGIN sender.test.
@              TXT "v=spf1 -all"
_dmarc         TXT "v=DMARC1; p=reject"
s1._domainkey  TXT ( "v=DKIM1; k=rsa; "
                     "p=${p.slice(0, 200)}"   ; a 2048-bit key needs two strings
                     "${p.slice(200)}" )
$ORIGIN soft.test.
@              TXT "v=spf1 -all"
_dmarc         TXT "v=DMARC1; p=quarantine"
$ORIGIN spf.test.
@              TXT "v=spf1 ip4:127.0.0.1 -all"
_dmarc         TXT "v=DMARC1; p=reject"
`;

async function signed(raw: string, options: { maxBodyLength?: number } = {}): Promise<string> {
  const key = privateKey.export({ type: 'pkcs8', format: 'pem' });
  const { signatures, errors } = await dkimSign(raw, {
    signatureData: [{ signingDomain: 'sender.test', selector: 's1', privateKey: key, ...options }],
  } as never);
  if (errors.length > 0 || !signatures.startsWith('DKIM-Signature:'))
    throw new Error(`signing failed: ${String(errors[0])}`);
  return signatures + raw;
}

describe('mx listener: sender authentication', () => {
  let h: Harness;
  let dir: string;
  let removeDir: () => Promise<void>;

  beforeAll(async () => {
    ({ dir, remove: removeDir } = await tempDir('swaks'));
    h = await startHarness({ listeners: [{ role: 'mx' }, { role: 'mx', sender_auth: 'record' }], zone });
  });
  afterAll(async () => {
    await h.close();
    await removeDir();
  });

  const send = (from: string, data: string) => swaksRaw(h.port('mx'), from, 'user@native.test', `${data}.`, dir);
  const queuedId = (replies: string[]): string | undefined =>
    /^250 2\.0\.0 Ok: queued as (\S+)$/.exec(replies.at(-2) ?? '')?.[1];

  it('accepts a DKIM-signed message from a zone-file domain, with the right Authentication-Results', async () => {
    const data = await signed(message('news@sender.test', 'user@native.test'));
    const run = await send('bounce@sender.test', data);
    const id = queuedId(swaksReplies(run.out));
    expect(run.code, run.out).toBe(0);
    expect(id).toBeDefined();
    const meta = await h.meta(id!);
    expect(meta.authenticationResults).toMatch(
      /^Authentication-Results: mx\.gw\.test;\r\n dkim=pass header\.i=@sender\.test header\.s=s1 header\.a=rsa-sha256/,
    );
    expect(meta.authenticationResults).toContain(' spf=fail ');
    expect(meta.authenticationResults).toMatch(
      /;\r\n dmarc=pass \(p=REJECT[^)]*\) header\.from=sender\.test[^;]*\r\n$/,
    );
    expect(meta.senderAuth.verdict).toMatchObject({
      action: 'accept',
      dmarc: 'pass',
      spf: 'fail',
      dkim: [{ domain: 'sender.test', result: 'pass', unsignedTail: false }],
    });
    expect(meta).toMatchObject({
      kind: 'smtp',
      queue: 'inbound',
      envelope: { mailFrom: 'bounce@sender.test', rcptTo: ['user@native.test'] },
      client: { ip: '127.0.0.1', helo: 'client.test', role: 'mx', user: null, tls: false },
      routes: [{ rcpt: 'user@native.test', kind: 'mailbox', domain: 'native.test' }],
      quarantine: false,
    });
    const { stream } = await h.spool.openBody(id!);
    expect((await buffer(stream)).toString('latin1')).toBe(data);
    expect(await h.queues.hasJob('inbound', id!)).toBe(true);
  });

  it('answers 550 5.7.1 to a forged From under p=reject and keeps nothing', async () => {
    const before = await h.entries();
    const run = await send('ceo@sender.test', message('ceo@sender.test', 'user@native.test'));
    expect(swaksReplies(run.out)).toContainEqual(expect.stringMatching(/^550 5\.7\.1 Rejected by DMARC policy/));
    expect(await h.entries()).toEqual(before);
  });

  it('with sender_auth: record, keeps the forged message and its failing verdict', async () => {
    const run = await swaksRaw(
      h.port('mx', 1),
      'ceo@sender.test',
      'user@native.test',
      `${message('ceo@sender.test', 'user@native.test')}.`,
      dir,
    );
    const id = queuedId(swaksReplies(run.out));
    expect(id, run.out).toBeDefined();
    const meta = await h.meta(id!);
    expect(meta.senderAuth).toMatchObject({
      mode: 'record',
      verdict: { action: 'reject', dmarc: 'fail', policy: 'reject' },
    });
    expect(meta.authenticationResults).toMatch(/ dmarc=fail \(p=REJECT/);
  });

  it('does not count a DKIM pass whose l= leaves an unsigned tail with content', async () => {
    const base = message('news@sender.test', 'user@native.test', 'Signed part.');
    const limited = await signed(base, { maxBodyLength: 14 });
    const clean = await send('bounce@sender.test', limited);
    expect(queuedId(swaksReplies(clean.out)), clean.out).toBeDefined();
    const tampered = await send('bounce@sender.test', `${limited}Click http://evil.test/ now\r\n`);
    expect(swaksReplies(tampered.out)).toContainEqual(
      expect.stringMatching(/^550 5\.7\.1 Rejected by DMARC policy: .*l=/),
    );
  });

  it('treats two From headers as a DMARC fail even when one of them is signed', async () => {
    const data = await signed(message('news@sender.test', 'user@native.test'));
    const run = await send('bounce@sender.test', `From: <ceo@bank.test>\r\n${data}`);
    expect(swaksReplies(run.out)).toContainEqual(
      '550 5.7.1 Rejected by DMARC policy: message must have exactly one From address',
    );
  });

  it('accepts and marks a DMARC fail under p=quarantine', async () => {
    const run = await send('x@soft.test', message('x@soft.test', 'user@native.test'));
    const id = queuedId(swaksReplies(run.out));
    expect(id, run.out).toBeDefined();
    const meta = await h.meta(id!);
    expect(meta.quarantine).toBe(true);
    expect(meta.authenticationResults).toMatch(/ dmarc=fail \(p=QUARANTINE/);
  });

  it('accepts an unsigned message whose aligned SPF passes for the client IP', async () => {
    const run = await send('x@spf.test', message('x@spf.test', 'user@native.test'));
    const id = queuedId(swaksReplies(run.out));
    expect(id, run.out).toBeDefined();
    expect((await h.meta(id!)).authenticationResults).toMatch(/ spf=pass .* dmarc=pass/s);
  });
});
