// The trace fields an mx listener stores in the meta: Received always, and with `arc` in config
// an ARC set over our verdicts. The next hop, given our fields prepended to the spooled bytes,
// must find the ARC chain valid (mailauth verifying against the offline zone).
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { authenticate } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseZoneFile } from '../../src/dns/zone-file.js';
import { zoneResolver } from '../../src/dns/zone-resolver.js';
import { smtpTraceFields } from '../../src/mail/trace-fields.js';
import { tempDir } from '../support/tmp.js';
import { type Harness, message, startHarness } from './harness.js';
import { swaksRaw, swaksReplies } from './peers.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const p = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const zone = `
$ORIGIN spf.test.
@              TXT "v=spf1 ip4:127.0.0.1 -all"
_dmarc         TXT "v=DMARC1; p=reject"
$ORIGIN gw.test.
arc1._domainkey TXT ( "v=DKIM1; k=rsa; " "p=${p.slice(0, 200)}" "${p.slice(200)}" )
`;

describe('trace fields in the meta', () => {
  let h: Harness;
  let dir: string;
  let removeDir: () => Promise<void>;

  beforeAll(async () => {
    ({ dir, remove: removeDir } = await tempDir('arc'));
    const keyFile = path.join(dir, 'arc.pem');
    await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    h = await startHarness({
      listeners: [{ role: 'mx' }],
      zone,
      config: { arc: { domain: 'gw.test', selector: 'arc1', key_file: keyFile } },
    });
  });
  afterAll(async () => {
    await h?.close();
    await removeDir();
  });

  it('stores Received and an ARC seal that the next hop verifies over the relayed bytes', async () => {
    const run = await swaksRaw(
      h.port('mx'),
      'x@spf.test',
      'user@native.test',
      `${message('x@spf.test', 'user@native.test')}.`,
      dir,
    );
    const id = /^250 2\.0\.0 Ok: queued as (\S+)$/.exec(swaksReplies(run.out).at(-2) ?? '')?.[1];
    expect(id, run.out).toBeDefined();
    const meta = await h.meta(id!);
    expect(meta.received).toMatch(
      new RegExp(
        `^Received: from client\\.test \\(\\[127\\.0\\.0\\.1\\]\\)\\r\\n\\tby mx\\.gw\\.test \\(mailbridge\\) with ESMTP id ${id}\\r\\n\\tfor <user@native\\.test>;\\r\\n\\t.+ \\+0000\\r\\n$`,
      ),
    );
    expect(meta.arcSet).toMatch(/^ARC-Seal: i=1; a=rsa-sha256; t=\d+; cv=none; d=gw\.test; s=arc1;/);
    const fields = smtpTraceFields(meta);
    expect(fields.map((f) => f.split(':')[0])).toEqual([
      'ARC-Seal',
      'ARC-Message-Signature',
      'ARC-Authentication-Results',
      'Authentication-Results',
      'Received',
    ]);
    expect(fields[2]).toContain('i=1; mx.gw.test;');
    expect(fields[2]).toContain('spf=pass');

    const { stream } = await h.spool.openBody(id!);
    const relayed = Buffer.concat([Buffer.from(fields.join('')), await buffer(stream)]);
    const resolver = zoneResolver(parseZoneFile(zone, { origin: '.' }));
    const next = await authenticate(relayed, {
      ip: '192.0.2.1',
      helo: 'mx.gw.test',
      sender: 'x@spf.test',
      mta: 'next.test',
      resolver: (name: string, rrtype: string) => resolver.resolve(name, rrtype) as Promise<string[][] | string[]>,
      disableBimi: true,
    });
    expect(next.arc === false ? undefined : next.arc.status.result).toBe('pass');
  });
});
