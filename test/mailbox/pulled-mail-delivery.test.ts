// Pulled PMTP mail written into a real Maildir: a message whose original bytes and manifest carry an
// Authentication-Results in our name (which the sending gateway had no reason to remove) and a
// PMTP-Token is delivered with neither, in the original form and in the form composed from parts.
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

  async function deliver(which: Manifest, id: string): Promise<string> {
    const delivery = pulledMailDelivery({
      config: { hostname: 'mx.beta.test', domains: { mailbox: ['beta.test'], postfix: {} } } as never,
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
      manifest: { ...which, id },
      signatures: [],
      recipients: ['bob@beta.test'],
      trustClass: 'allowlisted',
      openPart: async (index) => Readable.from([parts[index]!]),
    });
    expect(results).toEqual([{ recipient: 'bob@beta.test', status: 'delivered' }]);
    const box = path.join(dir, 'beta.test', 'Maildir', 'bob', 'new');
    const file = (await readdir(box)).find((f) => f.includes(id)) ?? (await readdir(box)).at(-1)!;
    return readFile(path.join(box, file), 'latin1');
  }

  function head(message: string): string[] {
    return message.slice(0, message.indexOf('\r\n\r\n')).split(/\r\n(?![ \t])/);
  }

  it('from the original bytes: ours on top only, no token, the rest unchanged', async () => {
    const message = await deliver(manifest, 'pulledOriginal000001');
    const results = head(message).filter((f) => /^authentication-results:/i.test(f));
    expect(results).toEqual([
      'Authentication-Results: mx.beta.test;\r\n\tpmtp=pass header.d=alpha.test policy.trust=allowlisted',
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
});
