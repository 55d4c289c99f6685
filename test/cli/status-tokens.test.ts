// `mailbridge status` (SMTP and PMTP rows from one lookup) and `mailbridge tokens issue|list|revoke`
// against a real Redis, through the commands' run functions.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { statusCommand } from '../../src/cli/status.js';
import { tokensCommand } from '../../src/cli/tokens.js';
import { generateDomainKey } from '../../src/native/protocol/domain-keys.js';
import { verifySenderToken } from '../../src/native/protocol/sender-token.js';
import { PmtpStatusStore } from '../../src/native/state/pmtp-status.js';
import { DeliveryStatusStore } from '../../src/queue/delivery-status.js';
import { deleteKeys, redisUrl, testPrefix } from '../support/redis.js';
import { tempDir } from '../support/tmp.js';

function capture() {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  return { out, text: () => text };
}

async function run(command: typeof statusCommand, argv: string[]) {
  const stdout = capture();
  const stderr = capture();
  const code = await command.run(argv, { env: {}, stdout: stdout.out, stderr: stderr.out });
  return { code, out: stdout.text(), err: stderr.text() };
}

describe('status and tokens commands', () => {
  const prefix = testPrefix();
  const key = generateDomainKey();
  const cKey = generateDomainKey();
  let file: string;
  let remove: () => Promise<void>;
  let redis: Redis;
  beforeAll(async () => {
    const t = await tempDir('cli-pmtp');
    remove = t.remove;
    await writeFile(path.join(t.dir, 'k.pem'), key.privatePem);
    await writeFile(path.join(t.dir, 'c.pem'), cKey.privatePem);
    file = path.join(t.dir, 'mb.yaml');
    await writeFile(
      file,
      stringify({
        redis: { url: redisUrl, prefix },
        spool: { dir: t.dir },
        pmtp: { domain: 'b.example', key_file: path.join(t.dir, 'k.pem') },
        domains: { settings: { 'c.example': { pmtp: { key_file: path.join(t.dir, 'c.pem') } } } },
      }),
    );
    redis = new Redis(redisUrl);
  });
  afterAll(async () => {
    redis.disconnect();
    await deleteKeys(prefix);
    await remove();
  });

  it('prints PMTP and SMTP recipients of a queue id, and by message id', async () => {
    const pmtp = new PmtpStatusStore(redis, prefix);
    await pmtp.notified('msgmsgmsgmsgmsgmsg01', 1, { 'b.example': ['bob@b.example'] }, 1_767_225_600);
    await pmtp.apply('msgmsgmsgmsgmsgmsg01', 'bob@b.example', 'accept', 1_767_225_601);
    await pmtp.index('Q1', 'msgmsgmsgmsgmsgmsg01');
    await new DeliveryStatusStore(redis, prefix).queued('Q1', ['carol@legacy.example'], new Date(0));
    const text = await run(statusCommand, ['Q1', '-c', file]);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/bob@b\.example\s+pmtp\s+accepted/);
    expect(text.out).toMatch(/carol@legacy\.example\s+smtp\s+queued/);
    const json = await run(statusCommand, ['msgmsgmsgmsgmsgmsg01', '--json', '-c', file]);
    expect(JSON.parse(json.out).recipients).toMatchObject([
      { recipient: 'bob@b.example', protocol: 'pmtp', state: 'accepted', final: false },
    ]);
    expect((await run(statusCommand, ['nothing-here', '-c', file])).code).toBe(65);
    expect((await run(statusCommand, ['-c', file])).code).toBe(64);
  });

  it('says why a PMTP recipient waits: the deferral window with its next poll, or the challenge', async () => {
    const pmtp = new PmtpStatusStore(redis, prefix);
    const id = 'msgmsgmsgmsgmsgmsg02';
    await pmtp.notified(id, 1, { 'b.example': ['bob@b.example', 'carol@b.example'] }, 1_767_225_600);
    await pmtp.apply(id, 'bob@b.example', 'defer', 1_767_225_601, {
      cookie: 'c1',
      endpoint: 'https://pmtp.b.example',
      nextPollAt: 1_767_225_661,
      pollUntil: 1_767_229_201,
    });
    await pmtp.apply(id, 'carol@b.example', 'challenge', 1_767_225_601);
    const { code, out } = await run(statusCommand, [id, '-c', file]);
    expect(code).toBe(0);
    expect(out).toMatch(
      /bob@b\.example\s+pmtp\s+deferred .*via https:\/\/pmtp\.b\.example the recipient server has not decided yet next poll 2026-01-01T00:01:01\.000Z polling until 2026-01-01T01:00:01\.000Z/,
    );
    expect(out).toMatch(/carol@b\.example\s+pmtp\s+challenged .*first-contact challenge: solving/);
  });

  it('issues a verifiable token, lists it with its uses, revokes it', async () => {
    const issued = await run(tokensCommand, [
      'issue',
      '--recipient',
      'bob@b.example',
      '--scope',
      'shop.example',
      '--max-uses',
      '3',
      '--expires',
      '7d',
      '-c',
      file,
    ]);
    expect(issued.code).toBe(0);
    const [idLine, , token] = issued.out.trim().split('\n');
    const tokenId = idLine!.split(' ')[1]!;
    const checked = await verifySenderToken(token, {
      sender: 'orders@shop.example',
      recipient: 'bob@b.example',
      now: Math.floor(Date.now() / 1000),
      keyLookup: () => key.publicKey,
    });
    expect(checked.ok).toBe(true);
    const listed = await run(tokensCommand, ['list', '--json', '-c', file]);
    expect(JSON.parse(listed.out)).toMatchObject([
      { tokenId, recipient: 'bob@b.example', maxUses: 3, uses: 0, revoked: false },
    ]);
    expect((await run(tokensCommand, ['revoke', tokenId, '-c', file])).code).toBe(0);
    expect((await run(tokensCommand, ['list', '-c', file])).out).toContain('REVOKED');
    expect(
      (
        await run(tokensCommand, [
          'issue',
          '--recipient',
          'bob@elsewhere.example',
          '--scope',
          'shop.example',
          '-c',
          file,
        ])
      ).code,
    ).toBe(64);
  });

  it("issues with --domain a token signed by another of our domains' own key", async () => {
    const issue = (recipient: string, domain: string) =>
      run(tokensCommand, [
        'issue',
        '--recipient',
        recipient,
        '--scope',
        'shop.example',
        '--domain',
        domain,
        '-c',
        file,
      ]);
    const issued = await issue('carol@c.example', 'c.example');
    expect(issued.code).toBe(0);
    const token = issued.out.trim().split('\n')[2];
    const verify = (publicKey: typeof cKey.publicKey) =>
      verifySenderToken(token, {
        sender: 'orders@shop.example',
        recipient: 'carol@c.example',
        now: Math.floor(Date.now() / 1000),
        keyLookup: (domain) => (domain === 'c.example' ? publicKey : undefined),
      });
    expect((await verify(cKey.publicKey)).ok).toBe(true);
    expect((await verify(key.publicKey)).ok).toBe(false);
    // a recipient outside the issuing domain, and a domain without its own PMTP key
    expect((await issue('bob@b.example', 'c.example')).code).toBe(64);
    const unknown = await issue('x@z.example', 'z.example');
    expect(unknown.code).toBe(64);
    expect(unknown.err).toContain('domains.settings.z.example.pmtp');
  });
});
