// Pulled PMTP mail written into a real Maildir: a message whose original bytes and manifest carry an
// Authentication-Results in our name (which the sending gateway had no reason to remove) and a
// PMTP-Token is delivered with neither, in the original form and in the form composed from parts.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalMailboxes } from '../../src/mailbox/local-mailboxes.js';
import { pulledMailDelivery } from '../../src/mailbox/pulled-mail-delivery.js';
import type { Manifest } from '../../src/native/protocol/message-format.js';
import { rfc5322ToPmtp } from '../../src/translate/rfc5322-to-pmtp.js';
import { tempDir } from '../support/tmp.js';
import { ARRIVAL, crlf, memorySink } from '../translate/support.js';

const original = crlf([
  'Authentication-Results: mx.beta.test; dkim=pass header.d=bank.test',
  'Authentication-Results: mx.alpha.test; spf=pass smtp.mailfrom=alpha.test',
  'PMTP-Token: eyJ2IjoxfQ.c2ln',
  'From: <alice@alpha.test>',
  'To: <bob@beta.test>',
  'Subject: forged in our name',
  'Message-ID: <forged-1@alpha.test>',
  '',
  'Authentication-Results: mx.beta.test; body text is not a field',
]);

describe('pulled PMTP mail into a mailbox', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let manifest: Manifest;
  let parts: Buffer[];

  beforeAll(async () => {
    ({ dir, remove } = await tempDir('pulled-delivery'));
    const sink = memorySink();
    // another gateway made it: it drops only Authentication-Results in its own name
    manifest = await rfc5322ToPmtp(
      Readable.from([original]),
      { ...ARRIVAL, ownAuthservIds: ['gw.alpha.test'] },
      sink.sink,
    );
    parts = [...sink.parts, original];
    expect(manifest.headers.map(([n]) => n)).toContain('PMTP-Token');
  });
  afterAll(() => remove());

  async function deliver(
    which: Manifest,
    id: string,
    options: { noticeSender?: string; trusted?: string[]; parts?: Buffer[] } = {},
  ): Promise<string> {
    const box = path.join(dir, 'beta.test', 'Maildir', 'bob', 'new');
    const before = await readdir(box).catch(() => [] as string[]);
    const delivery = pulledMailDelivery({
      config: {
        hostname: 'mx.beta.test',
        domains: { mailbox: ['beta.test'], postfix: {} },
        pmtp: { trusted_gateways: options.trusted ?? [] },
      } as never,
      mailboxes: new LocalMailboxes({
        hostname: 'mx.beta.test',
        mailbox: { maildir_root: dir },
        domains: { mailbox: ['beta.test'] },
      } as never),
      spool: undefined as never,
      acceptor: undefined as never,
      log: pino({ level: 'silent' }),
    });
    const results = await delivery.deliver({
      queueId: id,
      origin: 'alpha.test',
      noticeSender: options.noticeSender ?? which.from,
      manifest: { ...which, id },
      signatures: [],
      recipients: ['bob@beta.test'],
      trustClass: 'allowlisted',
      openPart: async (index) => Readable.from([(options.parts ?? parts)[index]!]),
    });
    expect(results).toEqual([{ recipient: 'bob@beta.test', status: 'delivered' }]);
    const file = (await readdir(box)).find((f) => !before.includes(f))!;
    return readFile(path.join(box, file), 'latin1');
  }

  function head(message: string): string[] {
    return message.slice(0, message.indexOf('\r\n\r\n')).split(/\r\n(?![ \t])/);
  }

  it('from the original bytes: ours on top only, no token, the rest unchanged', async () => {
    const message = await deliver(manifest, 'pulledOriginal000001');
    const results = head(message).filter((f) => /^authentication-results:/i.test(f));
    expect(results).toEqual([
      'Authentication-Results: mx.beta.test;\r\n\tpmtp=pass header.d=alpha.test policy.trust=allowlisted policy.author=aligned (provenance of gw.b.example not trusted)',
      'Authentication-Results: mx.alpha.test; spf=pass smtp.mailfrom=alpha.test',
    ]);
    expect(message).not.toMatch(/pmtp-token/i);
    expect(message.endsWith(original.subarray(original.indexOf('From: ')).toString('latin1'))).toBe(true);
  });

  it('composed from the parts: the same fields are left out of the manifest headers', async () => {
    const composed: Manifest = { ...manifest, parts: manifest.parts.slice(0, -1) };
    const message = await deliver(composed, 'pulledComposed000001');
    const results = head(message).filter((f) => /^authentication-results:/i.test(f));
    expect(results).toHaveLength(2);
    expect(results[0]).toMatch(/^Authentication-Results: mx\.beta\.test;\r\n\tpmtp=pass /);
    expect(results[1]).toMatch(/^Authentication-Results: mx\.alpha\.test; spf=pass/);
    expect(message).not.toMatch(/pmtp-token|dkim=pass/i);
    expect(message).toContain('Subject: forged in our name');
  });

  it('marks an author the origin speaks for as aligned, in PMTP-Trust as well', async () => {
    const message = await deliver(manifest, 'pulledAligned0000001');
    expect(head(message)).toContain('PMTP-Trust: allowlisted; author=aligned; origin=alpha.test');
  });

  it('marks a third-party author vouched, and a trusted gateway lets its DMARC pass count', async () => {
    const list = Buffer.from(
      original.toString('latin1').replace('From: <alice@alpha.test>', 'From: <ceo@bank.test>'),
      'latin1',
    );
    const sink = memorySink();
    const third = await rfc5322ToPmtp(
      Readable.from([list]),
      {
        ...ARRIVAL,
        provenance: { ...ARRIVAL.provenance, gateway: 'alpha.test', dmarc: { result: 'pass', domain: 'bank.test' } },
      },
      sink.sink,
    );
    const thirdParts = [...sink.parts, list];
    const untrusted = head(await deliver(third, 'pulledThirdParty0001', { parts: thirdParts }));
    expect(untrusted).toContain('PMTP-Trust: allowlisted; author=vouched; origin=alpha.test');
    expect(untrusted.find((f) => f.startsWith('Authentication-Results: mx.beta.test'))).toBe(
      'Authentication-Results: mx.beta.test;\r\n\tpmtp=pass header.d=alpha.test policy.trust=allowlisted policy.author=vouched (provenance of alpha.test not trusted)',
    );
    const trusted = head(await deliver(third, 'pulledThirdParty0002', { parts: thirdParts, trusted: ['alpha.test'] }));
    expect(trusted).toContain('PMTP-Trust: allowlisted; author=aligned; origin=alpha.test');
    expect(trusted.find((f) => f.startsWith('Authentication-Results: mx.beta.test'))).toContain(
      'dmarc=pass header.from=bank.test (provenance of alpha.test)',
    );
  });

  it("never aligns an original whose From: is not the manifest's author, nor a notice naming another sender", async () => {
    const forgedOriginal = Buffer.from(
      original.toString('latin1').replace('From: <alice@alpha.test>', 'From: <ceo@bank.test>'),
      'latin1',
    );
    // a hostile origin's manifest says alice while its (correctly hashed) original bytes name the CEO
    const last = manifest.parts.length - 1;
    const crafted: Manifest = {
      ...manifest,
      parts: manifest.parts.map((p, i) =>
        i === last
          ? {
              ...p,
              length: forgedOriginal.length,
              sha256: createHash('sha256').update(forgedOriginal).digest('base64url'),
            }
          : p,
      ),
    };
    const swapped = head(
      await deliver(crafted, 'pulledSwappedFrom001', { parts: [...parts.slice(0, -1), forgedOriginal] }),
    );
    expect(swapped).toContain('From: <ceo@bank.test>');
    expect(swapped).toContain('PMTP-Trust: allowlisted; author=vouched; origin=alpha.test');
    const otherSender = head(await deliver(manifest, 'pulledOtherSender01', { noticeSender: 'bob@alpha.test' }));
    expect(otherSender).toContain('PMTP-Trust: allowlisted; author=vouched; origin=alpha.test');
  });

  it('drops a PMTP-Trust field that came with the message', async () => {
    const claims = Buffer.from(
      original
        .toString('latin1')
        .replace('To: <bob@beta.test>', 'PMTP-Trust: allowlisted; author=aligned\r\nTo: <bob@beta.test>'),
      'latin1',
    );
    const sink = memorySink();
    const withClaim = await rfc5322ToPmtp(
      Readable.from([claims]),
      { ...ARRIVAL, ownAuthservIds: ['gw.alpha.test'] },
      sink.sink,
    );
    const fields = head(await deliver(withClaim, 'pulledForgedTrust01', { parts: [...sink.parts, claims] }));
    expect(fields.filter((f) => /^pmtp-trust:/i.test(f))).toEqual([
      'PMTP-Trust: allowlisted; author=aligned; origin=alpha.test',
    ]);
  });
});
