import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/native/protocol/canonical-json.js';
import {
  issueSenderToken,
  type SenderTokenInput,
  verifySenderToken,
} from '../../../src/native/protocol/sender-token.js';
import { KEYS, lookupOf, NOW } from './fixtures.js';

const base: SenderTokenInput = {
  token_id: 'tok_0123456789abcdef',
  issuer: 'b.example',
  recipient: 'bob@b.example',
  scope: { address: 'orders@shop.example' },
  expires: NOW + 3600,
  max_uses: 3,
};
const lookup = lookupOf({ 'b.example': [KEYS.b], 'c.example': [KEYS.c] });
const context = { sender: 'orders@shop.example', recipient: 'bob@b.example', now: NOW, keyLookup: lookup };
const token = issueSenderToken(base, KEYS.b.privateKey);
const verify = (t: unknown, changes: Partial<typeof context> = {}) => verifySenderToken(t, { ...context, ...changes });

describe('sender tokens', () => {
  it('verifies and exposes token_id and max_uses', async () => {
    expect(await verify(token)).toMatchObject({ ok: true, value: { token_id: 'tok_0123456789abcdef', max_uses: 3 } });
  });

  it('address scope: exact local part, case-insensitive domain', async () => {
    expect((await verify(token, { sender: 'orders@SHOP.example' })).ok).toBe(true);
    expect(await verify(token, { sender: 'Orders@shop.example' })).toMatchObject({
      ok: false,
      code: 'token_scope_mismatch',
    });
    expect(await verify(token, { sender: 'orders@evil.example' })).toMatchObject({
      ok: false,
      code: 'token_scope_mismatch',
    });
  });

  it('domain scope covers any sender of that domain', async () => {
    const domainToken = issueSenderToken({ ...base, scope: { domain: 'shop.example' } }, KEYS.b.privateKey);
    expect((await verify(domainToken, { sender: 'news@Shop.Example' })).ok).toBe(true);
    expect(await verify(domainToken, { sender: 'news@shop.example.evil' })).toMatchObject({
      code: 'token_scope_mismatch',
    });
  });

  it('expires (valid while now ≤ expires)', async () => {
    expect((await verify(token, { now: NOW + 3600 })).ok).toBe(true);
    expect(await verify(token, { now: NOW + 3601 })).toMatchObject({ ok: false, code: 'token_expired' });
  });

  it('must be issued by the recipient domain, for that recipient', async () => {
    const foreign = issueSenderToken({ ...base, issuer: 'c.example', recipient: 'bob@c.example' }, KEYS.c.privateKey);
    expect(await verify(foreign)).toMatchObject({ ok: false, code: 'token_wrong_issuer' });
    expect(await verify(token, { recipient: 'carol@b.example' })).toMatchObject({
      ok: false,
      code: 'token_wrong_recipient',
    });
  });

  it('fails with a forged or unknown key', async () => {
    const forged = issueSenderToken(base, KEYS.c.privateKey);
    expect(await verify(forged)).toMatchObject({ ok: false, code: 'unknown_key' });
    const [payload] = token.split('.');
    const [, otherSig] = issueSenderToken({ ...base, max_uses: 100 }, KEYS.b.privateKey).split('.');
    expect(await verify(`${payload}.${otherSig}`)).toMatchObject({ ok: false, code: 'token_invalid' });
  });

  it('detects a tampered payload', async () => {
    const [payload, sig] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
    const widened = Buffer.from(canonicalJson({ ...claims, max_uses: 1000 })).toString('base64url');
    expect(await verify(`${widened}.${sig}`)).toMatchObject({ ok: false, code: 'token_invalid' });
    const respelled = Buffer.from(JSON.stringify(claims, null, 1)).toString('base64url');
    expect(await verify(`${respelled}.${sig}`)).toMatchObject({ ok: false, code: 'token_malformed' });
  });

  it.each([undefined, 42, '', 'abc', 'a.b.c', `${'x'.repeat(5000)}.y`])('rejects junk %j', async (junk) => {
    expect(await verify(junk)).toMatchObject({ ok: false, code: 'token_malformed' });
  });
});
