import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  contentSize,
  type Manifest,
  manifestDigest,
  mediaTypeOf,
  type Provenance,
  parseManifest,
} from '../../../src/native/protocol/message-format.js';
import { sampleManifest } from './fixtures.js';

const provenance: Provenance = {
  spf: { result: 'pass', domain: 'legacy.example' },
  dkim: [{ result: 'pass', domain: 'legacy.example', selector: 's1' }],
  dmarc: { result: 'pass', domain: 'legacy.example' },
  arc: { result: 'none' },
  client_ip: '192.0.2.10',
  helo: 'mail.legacy.example',
  mail_from: 'carol@legacy.example',
  rcpt_to: ['bob@b.example'],
  received_at: 1_767_225_000,
  gateway: 'gw.example',
};

function withHeader(name: string, value: string): Manifest {
  const m = sampleManifest();
  return { ...m, headers: [...m.headers, [name, value]] };
}

describe('parseManifest', () => {
  it('accepts the sample and SMTP-born mail with provenance', () => {
    expect(parseManifest(sampleManifest()).ok).toBe(true);
    const smtp = sampleManifest({ provenance });
    smtp.parts.push({ type: 'message/rfc822', length: 10, sha256: smtp.parts[0]!.sha256, role: 'original-rfc5322' });
    expect(parseManifest(smtp)).toMatchObject({ ok: true });
  });

  it.each([
    ['CR in a value', withHeader('X-A', 'a\rb')],
    ['LF in a value', withHeader('X-A', 'a\nb')],
    ['NUL in a value', withHeader('X-A', 'a\0b')],
    ['colon in a name', withHeader('X:A', 'v')],
    ['space in a name', withHeader('X A', 'v')],
    ['non-ASCII name', withHeader('Sübject', 'v')],
    ['lone surrogate', withHeader('X-A', '\uD800')],
    ['Bcc header', withHeader('bcc', 'eve@b.example')],
    ['version 0', sampleManifest({ version: 0 })],
    ['short id', sampleManifest({ id: 'abc' })],
    ['bad from', sampleManifest({ from: 'alice' })],
    ['fractional created', sampleManifest({ created: 1.5 })],
  ])('rejects %s', (_, manifest) => {
    expect(parseManifest(manifest)).toMatchObject({ ok: false, code: 'manifest_invalid' });
  });

  it.each([
    ['bad digest', { sha256: 'abc' }],
    ['negative length', { length: -1 }],
    ['path in filename', { filename: '../x' }],
    ['bad media type', { type: 'text' }],
    ['unknown role', { role: 'bodyish' }],
  ])('rejects a part with %s', (_, change) => {
    const m = sampleManifest();
    const parts = [{ ...m.parts[0]!, ...change }];
    expect(parseManifest({ ...m, parts }).ok).toBe(false);
  });

  it('requires provenance for an original-rfc5322 part, and at most one', () => {
    const m = sampleManifest();
    const original = {
      type: 'message/rfc822',
      length: 1,
      sha256: m.parts[0]!.sha256,
      role: 'original-rfc5322' as const,
    };
    expect(parseManifest({ ...m, parts: [original] })).toMatchObject({ ok: false });
    expect(parseManifest({ ...m, provenance, parts: [original, original] })).toMatchObject({ ok: false });
  });
});

describe('manifestDigest', () => {
  it('changes when any header value changes (property)', () => {
    const m = sampleManifest();
    fc.assert(
      fc.property(fc.nat({ max: m.headers.length - 1 }), fc.string({ minLength: 1 }), (i, suffix) => {
        const headers = m.headers.map(([n, v], j) => [n, j === i ? v + suffix : v] as [string, string]);
        expect(manifestDigest({ ...m, headers })).not.toBe(manifestDigest(m));
      }),
    );
  });

  it('does not depend on object key order', () => {
    const m = sampleManifest();
    const shuffled = Object.fromEntries(Object.entries(m).reverse()) as Manifest;
    expect(manifestDigest(shuffled)).toBe(manifestDigest(m));
  });

  it('depends on header order', () => {
    const m = sampleManifest();
    expect(manifestDigest({ ...m, headers: [...m.headers].reverse() })).not.toBe(manifestDigest(m));
  });
});

describe('helpers', () => {
  it('sums part lengths and reads media types', () => {
    const m = sampleManifest();
    expect(contentSize(m)).toBe(m.parts.reduce((s, p) => s + p.length, 0));
    expect(mediaTypeOf({ ...m.parts[0]!, type: 'Text/Plain ; charset=utf-8' })).toBe('text/plain');
  });
});
