import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toBase64Url } from '../../../src/native/protocol/bytes.js';
import {
  delegateKeyId,
  MAX_DELEGATION_S,
  signDelegation,
  verifyDelegation,
} from '../../../src/native/protocol/delegation.js';
import { keyIdOf } from '../../../src/native/protocol/domain-keys.js';
import { signStatement } from '../../../src/native/protocol/signed-statement.js';
import { KEYS, lookupOf, NOW } from './fixtures.js';

const endpoint = 'https://bob-laptop.b.example:7443';
// bob's server holds its own key (here g's), never b.example's
const delegateKey = KEYS.g;
const proof = signDelegation({
  domain: 'b.example',
  recipient: 'bob@b.example',
  endpoint,
  delegateKey: delegateKey.publicKey,
  expires: NOW + 3600,
  privateKey: KEYS.b.privateKey,
});
const context = { recipient: 'bob@b.example', endpoint, now: NOW, keyLookup: lookupOf({ 'b.example': [KEYS.b] }) };
const verify = (p: unknown, changes: Partial<typeof context> = {}) => verifyDelegation(p, { ...context, ...changes });

describe('redirect delegation', () => {
  it('verifies a proof signed by the recipient domain, naming the delegate key', async () => {
    expect(await verify(proof)).toMatchObject({ ok: true });
    expect(proof.delegate_key).toBe(toBase64Url(delegateKey.publicKey));
    expect(delegateKeyId(proof)).toBe(delegateKey.keyId);
  });

  it('refuses a proof without recipient (no domain-wide delegation) or without delegate key', async () => {
    for (const drop of ['recipient', 'delegate_key'] as const) {
      const { sig: _, [drop]: __, ...rest } = proof;
      const signed = { ...rest, sig: signStatement('pmtp1/delegation', rest, KEYS.b.privateKey) };
      expect(await verify(signed)).toMatchObject({ ok: false, code: 'delegation_malformed' });
    }
  });

  it('does not cover another recipient or endpoint', async () => {
    expect(await verify(proof, { recipient: 'carol@b.example' })).toMatchObject({ code: 'delegation_mismatch' });
    expect(await verify(proof, { endpoint: 'https://evil.example' })).toMatchObject({ code: 'delegation_mismatch' });
  });

  it('expires, runs at most seven days, and needs the domain key', async () => {
    expect(await verify(proof, { now: NOW + 3601 })).toMatchObject({ code: 'delegation_expired' });
    const long = (expires: number) =>
      signDelegation({
        domain: 'b.example',
        recipient: 'bob@b.example',
        endpoint,
        delegateKey: delegateKey.publicKey,
        expires,
        privateKey: KEYS.b.privateKey,
      });
    expect(await verify(long(NOW + MAX_DELEGATION_S))).toMatchObject({ ok: true });
    expect(await verify(long(NOW + MAX_DELEGATION_S + 1))).toMatchObject({ code: 'delegation_malformed' });
    const byOther = signDelegation({
      domain: 'b.example',
      recipient: 'bob@b.example',
      endpoint,
      delegateKey: delegateKey.publicKey,
      expires: NOW + 60,
      privateKey: KEYS.c.privateKey,
    });
    expect(await verify(byOther)).toMatchObject({ code: 'unknown_key' });
  });

  it('detects tampering and junk', async () => {
    expect(await verify({ ...proof, expires: NOW + 99 })).toMatchObject({ code: 'delegation_invalid' });
    // swapping in another delegate key breaks the domain's signature
    const swapped = { ...proof, delegate_key: toBase64Url(KEYS.c.publicKey) };
    expect(await verify(swapped)).toMatchObject({ code: 'delegation_invalid' });
    expect(await verify({ ...proof, delegate_key: 'AAAA' })).toMatchObject({ code: 'delegation_malformed' });
    expect(
      await verify({ ...proof, endpoint: 'http://bob-laptop.b.example' }, { endpoint: 'http://bob-laptop.b.example' }),
    ).toMatchObject({ code: 'delegation_malformed' });
    expect(await verify('x')).toMatchObject({ code: 'delegation_malformed' });
  });

  it('covers exactly its one recipient, for any recipient and lifetime up to seven days (property)', async () => {
    const local = fc.stringMatching(/^[a-z][a-z0-9]{0,11}$/);
    await fc.assert(
      fc.asyncProperty(local, local, fc.integer({ min: 0, max: MAX_DELEGATION_S }), async (mine, other, lifetime) => {
        const signed = signDelegation({
          domain: 'b.example',
          recipient: `${mine}@b.example`,
          endpoint,
          delegateKey: delegateKey.publicKey,
          expires: NOW + lifetime,
          privateKey: KEYS.b.privateKey,
        });
        const own = await verify(signed, { recipient: `${mine}@B.example` });
        const theirs = await verify(signed, { recipient: `${other}@b.example` });
        return (
          own.ok &&
          delegateKeyId(signed) === keyIdOf(delegateKey.publicKey) &&
          (mine === other ? theirs.ok : !theirs.ok && theirs.code === 'delegation_mismatch')
        );
      }),
      { numRuns: 50 },
    );
  });
});
