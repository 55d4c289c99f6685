// Ed25519 public key import: imported keys are reused by their raw bytes (a bounded cache), and
// reuse never changes what verifies.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ed25519Sign, ed25519Verify, publicKeyFromRaw, rawPublicKey } from '../../../src/native/protocol/ed25519.js';

function keyPair(): { raw: Buffer; sign: (data: Uint8Array) => Buffer } {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { raw: rawPublicKey(privateKey), sign: (data) => ed25519Sign(privateKey, data) };
}

describe('publicKeyFromRaw', () => {
  it('hands back the same key object for the same bytes in another buffer', () => {
    const { raw } = keyPair();
    const first = publicKeyFromRaw(raw);
    // the same 32 bytes inside a larger buffer, at an offset
    const host = Buffer.concat([randomBytes(7), raw, randomBytes(5)]);
    const again = publicKeyFromRaw(host.subarray(7, 39));
    expect(again).toBe(first);
    expect(rawPublicKey(again).equals(raw)).toBe(true);
  });

  it('keeps different keys apart: a signature verifies only under its own key', () => {
    const [a, b] = [keyPair(), keyPair()];
    const data = Buffer.from('PMTP/1 signed bytes');
    const signature = a.sign(data);
    expect(ed25519Verify(a.raw, data, signature)).toBe(true);
    expect(ed25519Verify(b.raw, data, signature)).toBe(false);
    // cached now: the answers stay the same
    expect(ed25519Verify(a.raw, data, signature)).toBe(true);
    expect(ed25519Verify(b.raw, data, signature)).toBe(false);
    expect(publicKeyFromRaw(a.raw)).not.toBe(publicKeyFromRaw(b.raw));
  });

  it('is bounded: a key unused while many others were imported is imported afresh', () => {
    const { raw } = keyPair();
    const first = publicKeyFromRaw(raw);
    for (let i = 0; i < 1100; i++) publicKeyFromRaw(rawPublicKey(generateKeyPairSync('ed25519').publicKey));
    const later = publicKeyFromRaw(raw);
    expect(later).not.toBe(first);
    expect(later.equals(first)).toBe(true);
  });

  it('keeps a key in use: one used between other imports survives them', () => {
    const { raw } = keyPair();
    const first = publicKeyFromRaw(raw);
    for (let i = 0; i < 1100; i++) {
      publicKeyFromRaw(rawPublicKey(generateKeyPairSync('ed25519').publicKey));
      if (i % 500 === 0) publicKeyFromRaw(raw);
    }
    expect(publicKeyFromRaw(raw)).toBe(first);
  });
});
