// The pure scope rules of a delegate key (§13.5): pulls only of messages noticed to the delegate for
// its one recipient, acks only of that recipient, and a grant that runs until its expiry.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ackInScope,
  type Grant,
  grantLive,
  type NoticedRecipient,
  pullInScope,
} from '../../../src/native/server/delegate-scope.js';

const grant: Grant = { recipient: 'bob@b.example', endpoint: 'https://bob.b.example', expires: 1000 };
const bob: NoticedRecipient = { recipient: 'bob@b.example', endpoint: grant.endpoint };
const carol: NoticedRecipient = { recipient: 'carol@b.example', endpoint: 'https://mx.b.example' };

const local = fc.stringMatching(/^[a-z]{1,8}$/);
const noticed = fc.record({
  recipient: local.map((l) => `${l}@b.example`),
  endpoint: fc.constantFrom(grant.endpoint, 'https://mx.b.example', undefined),
});

describe('delegate scope', () => {
  it('a pull is in scope only when the message was noticed to the delegate for its recipient', () => {
    expect(pullInScope(grant, [carol, bob])).toEqual({ ok: true });
    expect(pullInScope(grant, [carol])).toMatchObject({ ok: false, code: 'delegation_scope' });
    // bob's notice went to b.example's own server, not to this delegate
    expect(pullInScope(grant, [{ ...bob, endpoint: 'https://mx.b.example' }])).toMatchObject({
      code: 'delegation_scope',
    });
    // the domain part of an address is case-insensitive
    expect(pullInScope(grant, [{ ...bob, recipient: 'bob@B.EXAMPLE' }])).toEqual({ ok: true });
  });

  it('an ack may name only the delegated recipient', () => {
    expect(ackInScope(grant, [bob, bob])).toEqual({ ok: true });
    expect(ackInScope(grant, [bob, carol])).toMatchObject({ ok: false, code: 'delegation_scope' });
    expect(ackInScope(grant, [{ ...bob, endpoint: undefined }])).toMatchObject({ code: 'delegation_scope' });
  });

  it('a grant runs until its expiry, inclusive', () => {
    expect(grantLive(grant, 1000)).toEqual({ ok: true });
    expect(grantLive(grant, 1001)).toMatchObject({ ok: false, code: 'delegation_expired' });
  });

  it('pull: allowed exactly when some record is the delegate’s (property)', () => {
    fc.assert(
      fc.property(fc.array(noticed, { maxLength: 6 }), (records) => {
        const verdict = pullInScope(grant, records);
        const mine = records.some((r) => r.recipient === grant.recipient && r.endpoint === grant.endpoint);
        return verdict.ok === mine && (verdict.ok || verdict.code === 'delegation_scope');
      }),
    );
  });

  it('ack: allowed exactly when every record is the delegate’s (property)', () => {
    fc.assert(
      fc.property(fc.array(noticed, { maxLength: 6 }), (records) => {
        const verdict = ackInScope(grant, records);
        const allMine = records.every((r) => r.recipient === grant.recipient && r.endpoint === grant.endpoint);
        return verdict.ok === allMine && (verdict.ok || verdict.code === 'delegation_scope');
      }),
    );
  });
});
