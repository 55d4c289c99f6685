// Golden tests: each golden/*.eml converts to exactly golden/*.manifest.json, and converts back
// through its original part byte for byte under the trace fields. UPDATE_GOLDEN=1 rewrites the
// manifests and golden/*.parts.txt (the part bytes, readable); review both by eye before committing.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { dkimVerify } from 'mailauth';
import { describe, expect, it } from 'vitest';
import { pmtpAuthenticationResults, receivedHeader } from '../../src/mail/trace-fields.js';
import type { Manifest } from '../../src/native/protocol/message-format.js';
import { pmtpToRfc5322 } from '../../src/translate/pmtp-to-rfc5322.js';
import { rfc5322ToPmtp } from '../../src/translate/rfc5322-to-pmtp.js';
import { ARRIVAL, chunked, collect, memorySink, reader } from './support.js';

const dir = path.join(import.meta.dirname, 'golden');
const names = (await readdir(dir)).filter((f) => f.endsWith('.eml')).map((f) => f.slice(0, -4));
const arrival = { ...ARRIVAL, ownAuthservIds: ['mx.b.example'] };
const trace = [
  receivedHeader({
    by: 'gw.b.example',
    queueId: '0ABCDEFGHJ12345678',
    protocol: 'PMTP',
    date: new Date(Date.UTC(2026, 0, 1)),
  }),
  pmtpAuthenticationResults({
    authservId: 'gw.b.example',
    result: 'pass',
    domain: 'gw.b.example',
    trust: 'allowlisted',
    author: 'aligned',
  }),
];

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Part bytes for a reviewer: UTF-8 text as a JSON string, anything else as base64. */
function showParts(manifest: Manifest, parts: readonly Buffer[]): string {
  return manifest.parts
    .map((p, i) => {
      const bytes = parts[i];
      let shown = bytes ? bytes.toString('base64') : '(the .eml itself)';
      try {
        if (bytes && p.type.startsWith('text/')) shown = JSON.stringify(utf8.decode(bytes));
      } catch {
        // not UTF-8: base64 it is
      }
      return `--- part ${i}: ${p.role} ${p.type}${p.filename ? ` "${p.filename}"` : ''}\n${shown}\n`;
    })
    .join('');
}

async function convert(name: string) {
  const eml = await readFile(path.join(dir, `${name}.eml`));
  const { sink, parts } = memorySink();
  const manifest = await rfc5322ToPmtp(chunked(eml, [1000, 7]), arrival, sink);
  return { eml, manifest, parts };
}

describe.each(names)('golden %s', (name) => {
  it('converts to its manifest', async () => {
    const { manifest, parts } = await convert(name);
    const file = path.join(dir, `${name}.manifest.json`);
    const partsFile = path.join(dir, `${name}.parts.txt`);
    if (process.env.UPDATE_GOLDEN) {
      await writeFile(file, `${JSON.stringify(manifest, null, 2)}\n`);
      await writeFile(partsFile, showParts(manifest, parts));
    }
    expect(manifest).toEqual(JSON.parse(await readFile(file, 'utf8')));
    expect(showParts(manifest, parts)).toBe(await readFile(partsFile, 'utf8'));
  });

  it('converts back to the original bytes under the trace fields', async () => {
    const { eml, manifest, parts } = await convert(name);
    const hop = { smtputf8: false, eightBitMime: true };
    const out = await collect(pmtpToRfc5322(manifest, reader(manifest, parts, eml), { trace, hop }));
    expect(out.equals(Buffer.concat([Buffer.from(trace.join('')), eml]))).toBe(true);
  });
});

describe('golden dkim-signed', () => {
  it("keeps the sender's DKIM signature verifiable after SMTP → PMTP → SMTP", async () => {
    const { eml, manifest, parts } = await convert('dkim-signed');
    const record = (await readFile(path.join(dir, 'dkim-signed.dns.txt'), 'utf8')).trim();
    const resolver = async (name: string, type: string) => {
      if (name === 'sel1._domainkey.a.example' && type === 'TXT') return [[record]];
      throw Object.assign(new Error(`ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
    };
    const out = await collect(
      pmtpToRfc5322(manifest, reader(manifest, parts, eml), { trace, hop: { smtputf8: false, eightBitMime: false } }),
    );
    const result = await dkimVerify(out, { resolver });
    expect(result.results.map((r) => [r.signingDomain, r.status.result])).toEqual([['a.example', 'pass']]);
  });
});
