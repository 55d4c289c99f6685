// Shared test fixtures: fixed domain keys (RFC 8032 test seeds), a sample message, key lookups.
import { type DomainKey, domainKeyFromSeed } from '../../../src/native/protocol/domain-keys.js';
import type { KeyLookup } from '../../../src/native/protocol/ed25519.js';
import { describePart, type Manifest, manifestDigest } from '../../../src/native/protocol/message-format.js';
import { type MessageSignature, signManifest } from '../../../src/native/protocol/message-signature.js';

export const NOW = 1_767_225_600; // 2026-01-01T00:00:00Z

const seed = (hex: string) => Buffer.from(hex, 'hex');
export const KEYS = {
  a: domainKeyFromSeed(seed('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60')),
  aOld: domainKeyFromSeed(seed('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb')),
  b: domainKeyFromSeed(seed('c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7')),
  c: domainKeyFromSeed(seed('f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5')),
  g: domainKeyFromSeed(seed('833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42')),
};

/** A lookup that knows exactly the given (domain, key) pairs, at any time. */
export function lookupOf(entries: Record<string, DomainKey[]>): KeyLookup {
  return (domain, keyId) => entries[domain]?.find((k) => k.keyId === keyId)?.publicKey;
}

export const TEXT = Buffer.from('Hello Bob,\r\nlunch at noon? — Alice\r\n', 'utf8');
export const HTML = Buffer.from('<p>Hello Bob,</p><p>lunch at noon? — Alice</p>', 'utf8');
export const ATTACHMENT = Buffer.from([0x00, 0xff, 0x0a, 0x0d, 0x2e, 0x0d, 0x0a, 0x00]);

export function sampleManifest(overrides: Partial<Manifest> = {}): Manifest {
  return {
    v: 1,
    id: 'q7Jt3nX0bWc1yZ9aKm4LpA',
    version: 1,
    from: 'alice@a.example',
    headers: [
      ['From', 'Alice <alice@a.example>'],
      ['To', 'Bob <bob@b.example>'],
      ['Subject', 'Lunch? ☕'],
      ['Date', 'Thu, 01 Jan 2026 00:00:00 +0000'],
    ],
    parts: [
      describePart(TEXT, { type: 'text/plain; charset=utf-8', role: 'body' }),
      describePart(HTML, { type: 'text/html; charset=utf-8', role: 'alternative' }),
      describePart(ATTACHMENT, {
        type: 'application/octet-stream',
        role: 'attachment',
        disposition: 'attachment',
        filename: 'data.bin',
      }),
    ],
    created: NOW,
    ...overrides,
  };
}

export const PART_DATA = [TEXT, HTML, ATTACHMENT];

export function originSignature(manifest: Manifest, key = KEYS.a, domain = 'a.example'): MessageSignature {
  return signManifest({
    manifestDigest: manifestDigest(manifest),
    previous: [],
    role: 'origin',
    domain,
    keyId: key.keyId,
    privateKey: key.privateKey,
    created: NOW,
  });
}
