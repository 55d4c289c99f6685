// Two domains on one gateway, each with its own DKIM key: through a real private Postfix, mail from
// each domain carries its own d= and s= and verifies (mailauth) against that domain's record in a
// zone file; a subdomain's author takes its parent's key (relaxed alignment); a stranger's is unsigned.
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type DNSResolver, dkimVerify } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseZoneFile } from '../../src/dns/zone-file.js';
import { zoneResolver } from '../../src/dns/zone-resolver.js';
import { loadDomainSigners } from '../../src/mail/domain-signers.js';
import { testConfig } from '../support/config.js';
import { type PrivatePostfix, startPostfix } from '../support/postfix.js';
import { smtpRecord } from '../support/records.js';
import { testPrefix } from '../support/redis.js';
import { staticResolver } from '../support/static-resolver.js';
import { tempDir } from '../support/tmp.js';
import { eventually, type Harness, outboundHarness } from './harness.js';

/** Writes an RSA key and returns the zone line publishing it (TXT split into 200-char strings). */
async function dkimKey(dir: string, domain: string, selector: string): Promise<{ keyFile: string; zone: string }> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyFile = path.join(dir, `${domain}.dkim.key`);
  await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const record = `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;
  const strings = record.match(/.{1,200}/g)!.map((s) => `"${s}"`);
  return { keyFile, zone: `${selector}._domainkey.${domain}. 300 IN TXT ( ${strings.join(' ')} )` };
}

const message = (from: string, n: number) =>
  [
    `From: Sender <${from}>`,
    'To: Bob <bob@test.example>',
    `Subject: from ${from}`,
    'Date: Tue, 02 Jan 2024 03:04:05 +0000',
    `Message-ID: <many-${n}@gw.test>`,
    '',
    `Hello from ${from}.`,
    '',
  ].join('\r\n');

describe('DKIM for many domains on one gateway', () => {
  let postfix: PrivatePostfix;
  let harness: Harness;
  let remove: () => Promise<void>;
  let dns: DNSResolver;

  beforeAll(async () => {
    postfix = await startPostfix({ domain: 'test.example', mynetworks: '127.0.0.2/32' });
    const tmp = await tempDir('dkim-many');
    remove = tmp.remove;
    const one = await dkimKey(tmp.dir, 'one.example', 'first');
    const two = await dkimKey(tmp.dir, 'two.example', 'second');
    const zone = zoneResolver(parseZoneFile(`${one.zone}\n${two.zone}\n`, { origin: '.' }));
    dns = async (name, rrtype) => {
      if (rrtype.toUpperCase() !== 'TXT') throw Object.assign(new Error('ENODATA'), { code: 'ENODATA' });
      return zone.resolveTxt(name);
    };
    const config = testConfig(
      {
        spool: { dir: tmp.dir },
        hostname: 'gw.test',
        outbound: { port_map: { 'mx.test.example': postfix.port } },
        // the default domain keeps the old single key; the second has its own
        dkim: { domain: 'one.example', selector: 'first', key_file: one.keyFile },
        domains: { settings: { 'two.example': { dkim: { selector: 'second', key_file: two.keyFile } } } },
      },
      testPrefix(),
    );
    const resolver = staticResolver({
      mx: { 'test.example': [{ exchange: 'mx.test.example', priority: 10 }] },
      a: { 'mx.test.example': ['127.0.0.1'] },
    });
    harness = await outboundHarness(config, resolver, {
      dkim: await loadDomainSigners(config, path.join(tmp.dir, 'dkim-cache')),
    });
  });
  afterAll(async () => {
    await harness?.close();
    await postfix?.stop();
    await remove?.();
  });

  async function deliver(from: string, n: number): Promise<Buffer> {
    const before = (await postfix.delivered()).length;
    const queueId = await harness.submit(
      message(from, n),
      smtpRecord({
        role: 'submission',
        user: from,
        envelope: { mailFrom: from, rcptTo: ['bob@test.example'] },
      }),
    );
    expect(await (await harness.finished(queueId)).getState()).toBe('completed');
    const all = await eventually(async () => {
      const now = await postfix.delivered();
      return now.length > before ? now : undefined;
    });
    return all.find((m) => m.toString().includes(`<many-${n}@gw.test>`))!;
  }

  const verdicts = async (stored: Buffer) =>
    (await dkimVerify(stored, { resolver: dns })).results.map((r) => [r.signingDomain, r.selector, r.status.result]);

  it("signs each domain's mail with its own key, which verifies against its own record", async () => {
    expect(await verdicts(await deliver('alice@one.example', 1))).toEqual([['one.example', 'first', 'pass']]);
    expect(await verdicts(await deliver('bob@two.example', 2))).toEqual([['two.example', 'second', 'pass']]);
  });

  it("signs a subdomain's author with its parent's key (relaxed alignment)", async () => {
    expect(await verdicts(await deliver('news@lists.two.example', 3))).toEqual([['two.example', 'second', 'pass']]);
  });

  it('never signs for a domain without its key', async () => {
    const stored = await deliver('eve@three.example', 4);
    expect(stored.toString()).not.toMatch(/^DKIM-Signature:/m);
    expect(await verdicts(stored)).toEqual([[undefined, undefined, 'none']]);
  });
});
