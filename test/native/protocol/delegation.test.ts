import { describe, expect, it } from 'vitest';
import { signDelegation, verifyDelegation } from '../../../src/native/protocol/delegation.js';
import { KEYS, lookupOf, NOW } from './fixtures.js';

const endpoint = 'https://bob-laptop.b.example:7443';
const proof = signDelegation({
  domain: 'b.example',
  recipient: 'bob@b.example',
  endpoint,
  expires: NOW + 3600,
  privateKey: KEYS.b.privateKey,
});
const context = { recipient: 'bob@b.example', endpoint, now: NOW, keyLookup: lookupOf({ 'b.example': [KEYS.b] }) };
const verify = (p: unknown, changes: Partial<typeof context> = {}) => verifyDelegation(p, { ...context, ...changes });

describe('redirect delegation', () => {
  it('verifies a proof signed by the recipient domain', async () => {
    expect(await verify(proof)).toMatchObject({ ok: true });
  });

  it('a domain-wide proof covers every recipient of the domain only', async () => {
    const wide = signDelegation({ domain: 'b.example', endpoint, expires: NOW + 3600, privateKey: KEYS.b.privateKey });
    expect((await verify(wide, { recipient: 'carol@b.example' })).ok).toBe(true);
    expect(await verify(wide, { recipient: 'carol@c.example' })).toMatchObject({ code: 'delegation_mismatch' });
  });

  it('does not cover another recipient or endpoint', async () => {
    expect(await verify(proof, { recipient: 'carol@b.example' })).toMatchObject({ code: 'delegation_mismatch' });
    expect(await verify(proof, { endpoint: 'https://evil.example' })).toMatchObject({ code: 'delegation_mismatch' });
  });

  it('expires, and needs the domain key', async () => {
    expect(await verify(proof, { now: NOW + 3601 })).toMatchObject({ code: 'delegation_expired' });
    const byOther = signDelegation({ domain: 'b.example', endpoint, expires: NOW + 60, privateKey: KEYS.c.privateKey });
    expect(await verify(byOther)).toMatchObject({ code: 'unknown_key' });
  });

  it('detects tampering and junk', async () => {
    expect(await verify({ ...proof, expires: NOW + 99_999 })).toMatchObject({ code: 'delegation_invalid' });
    expect(
      await verify({ ...proof, endpoint: 'http://bob-laptop.b.example' }, { endpoint: 'http://bob-laptop.b.example' }),
    ).toMatchObject({
      code: 'delegation_malformed',
    });
    expect(await verify('x')).toMatchObject({ code: 'delegation_malformed' });
  });
});
