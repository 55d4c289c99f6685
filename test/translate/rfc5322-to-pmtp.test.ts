// RFC 5322 → PMTP: part roles, the `from` fallback, the sink contract and signing the result.
import { describe, expect, it } from 'vitest';
import { type Manifest, manifestDigest } from '../../src/native/protocol/message-format.js';
import { signManifest, verifyManifestSignatures } from '../../src/native/protocol/message-signature.js';
import { type PartSink, rfc5322ToPmtp } from '../../src/translate/rfc5322-to-pmtp.js';
import { KEYS, lookupOf } from '../native/protocol/fixtures.js';
import { ARRIVAL, chunked, crlf, memorySink, NOW, PROVENANCE } from './support.js';

const convert = async (lines: string[], arrival = ARRIVAL) => {
  const { sink, parts } = memorySink();
  const manifest = await rfc5322ToPmtp(chunked(crlf(lines), [17]), arrival, sink);
  return { manifest, parts };
};

const roles = (m: Manifest) => m.parts.map((p) => [p.role, p.type, p.disposition ?? null]);

describe('rfc5322ToPmtp', () => {
  it('makes inline images of multipart/related "related" parts, and an HTML-only message an HTML body', async () => {
    const { manifest, parts } = await convert([
      'From: a@a.example',
      'Content-Type: multipart/related; boundary="r"',
      '',
      '--r',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<img src="cid:logo@a">',
      '--r',
      'Content-Type: image/gif',
      'Content-ID: <logo@a>',
      'Content-Transfer-Encoding: base64',
      '',
      'R0lGODlhAQABAAAAACw=',
      '--r--',
    ]);
    expect(roles(manifest)).toEqual([
      ['related', 'image/gif', 'inline'],
      ['body', 'text/html; charset=utf-8', null],
      ['original-rfc5322', 'message/rfc822', null],
    ]);
    expect(parts[1]!.toString()).toBe('<img src="cid:logo@a">');
  });

  it('keeps an attached message and a delivery report whole, as attachments', async () => {
    const { manifest, parts } = await convert([
      'From: a@a.example',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="m"',
      '',
      '--m',
      'Content-Type: text/plain',
      '',
      'see below',
      '--m',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; mx.a.example',
      '--m',
      'Content-Type: message/rfc822',
      '',
      'Subject: inner',
      '',
      'inner body',
      '--m--',
    ]);
    expect(roles(manifest).slice(0, 2)).toEqual([
      ['attachment', 'message/delivery-status', 'attachment'],
      ['attachment', 'message/rfc822', 'attachment'],
    ]);
    expect(parts[1]!.toString()).toBe('Subject: inner\r\n\r\ninner body');
  });

  it('falls back to the envelope sender for `from`, and fails with from_missing for a null reverse-path', async () => {
    const { manifest } = await convert(['Subject: no from', '', 'x']);
    expect(manifest.from).toBe('alice@a.example');
    const bounce = { ...ARRIVAL, provenance: { ...PROVENANCE, mail_from: '' as const } };
    await expect(convert(['Subject: no from', '', 'x'], bounce)).rejects.toMatchObject({ code: 'from_missing' });
  });

  it('fails with sink_incomplete when the sink stops reading a part, and passes a sink error through', async () => {
    const lines = [
      'From: a@a.example',
      'Content-Type: application/pdf',
      'Content-Transfer-Encoding: base64',
      '',
      'AAAA'.repeat(5000),
    ];
    const lazy: PartSink = async () => undefined;
    await expect(rfc5322ToPmtp(chunked(crlf(lines)), ARRIVAL, lazy)).rejects.toMatchObject({ code: 'sink_incomplete' });
    const broken: PartSink = async (_i, _m, octets) => {
      for await (const _ of octets) throw new Error('disk full');
    };
    await expect(rfc5322ToPmtp(chunked(crlf(lines), [100]), ARRIVAL, broken)).rejects.toThrow('disk full');
  });

  it('produces a manifest the gateway can sign as origin', async () => {
    const { manifest } = await convert(['From: Alice <alice@a.example>', 'Subject: hi', '', 'hello']);
    const digest = manifestDigest(manifest);
    const sig = signManifest({
      manifestDigest: digest,
      previous: [],
      role: 'origin',
      domain: 'gw.b.example',
      keyId: KEYS.g.keyId,
      privateKey: KEYS.g.privateKey,
      created: NOW,
    });
    const verdict = await verifyManifestSignatures({
      manifestDigest: digest,
      signatures: [sig],
      keyLookup: lookupOf({ 'gw.b.example': [KEYS.g] }),
      now: NOW,
    });
    expect(verdict.ok).toBe(true);
  });
});
