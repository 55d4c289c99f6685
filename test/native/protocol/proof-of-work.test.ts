import { describe, expect, it } from 'vitest';
import {
  challengeId,
  issueChallenge,
  leadingZeroBits,
  type PowChallenge,
  solveChallenge,
  verifySolution,
  workHash,
} from '../../../src/native/protocol/proof-of-work.js';
import { NOW } from './fixtures.js';

const secret = Buffer.alloc(32, 7);
const challenge = issueChallenge({
  bits: 10,
  salt: Buffer.alloc(16, 1),
  noticeId: 'q7Jt3nX0bWc1yZ9aKm4LpA',
  sender: 'alice@a.example',
  recipient: 'bob@b.example',
  expires: NOW + 600,
  secret,
});
const context = {
  secret,
  now: NOW,
  noticeId: challenge.notice_id,
  sender: 'alice@a.example',
  recipient: 'bob@b.example',
};
const solution = solveChallenge(challenge)!;

describe('proof of work', () => {
  it('counts leading zero bits', () => {
    expect(leadingZeroBits(Buffer.from([0xff]))).toBe(0);
    expect(leadingZeroBits(Buffer.from([0x00, 0x01]))).toBe(15);
    expect(leadingZeroBits(Buffer.from([0x00, 0x80]))).toBe(8);
    expect(leadingZeroBits(Buffer.from([0x00, 0x00]))).toBe(16);
  });

  it('solves and verifies, with a stable stamp id', () => {
    expect(leadingZeroBits(workHash(challenge, solution))).toBeGreaterThanOrEqual(10);
    expect(verifySolution(challenge, solution, context)).toEqual({
      ok: true,
      value: { stampId: challengeId(challenge), expires: NOW + 600 },
    });
  });

  it('rejects a solution without enough work', () => {
    const lazy = Array.from({ length: 50 }, (_, i) => String(i)).find(
      (s) => leadingZeroBits(workHash(challenge, s)) < 10,
    )!;
    expect(verifySolution(challenge, lazy, context)).toMatchObject({ ok: false, code: 'pow_insufficient' });
    expect(verifySolution(challenge, 'not valid!', context)).toMatchObject({ ok: false, code: 'pow_insufficient' });
    expect(verifySolution(challenge, 42, context)).toMatchObject({ ok: false, code: 'pow_insufficient' });
  });

  it('expires (valid while now ≤ expires)', () => {
    expect(verifySolution(challenge, solution, { ...context, now: NOW + 600 }).ok).toBe(true);
    expect(verifySolution(challenge, solution, { ...context, now: NOW + 601 })).toMatchObject({
      ok: false,
      code: 'challenge_expired',
    });
  });

  it('is bound to its recipient, sender and notice', () => {
    expect(verifySolution(challenge, solution, { ...context, recipient: 'carol@b.example' })).toMatchObject({
      code: 'challenge_mismatch',
    });
    expect(verifySolution(challenge, solution, { ...context, sender: 'mallory@a.example' })).toMatchObject({
      code: 'challenge_mismatch',
    });
    expect(verifySolution(challenge, solution, { ...context, noticeId: 'AAAAAAAAAAAAAAAAAAAAAA' })).toMatchObject({
      code: 'challenge_mismatch',
    });
    expect(verifySolution(challenge, solution, { ...context, recipient: 'bob@B.EXAMPLE' }).ok).toBe(true);
  });

  it('cannot be altered by the sender (MAC), nor checked with another secret', () => {
    const easier: PowChallenge = { ...challenge, bits: 1 };
    expect(verifySolution(easier, '0', context)).toMatchObject({ ok: false, code: 'challenge_invalid' });
    const rebound: PowChallenge = { ...challenge, recipient: 'carol@b.example' };
    expect(verifySolution(rebound, solution, { ...context, recipient: 'carol@b.example' })).toMatchObject({
      code: 'challenge_invalid',
    });
    expect(verifySolution(challenge, solution, { ...context, secret: Buffer.alloc(32, 8) })).toMatchObject({
      code: 'challenge_invalid',
    });
    expect(verifySolution({ ...challenge, extra: 1 }, solution, context)).toMatchObject({ code: 'challenge_invalid' });
  });

  it('gives up after maxIterations', () => {
    const hard = issueChallenge({ ...context, bits: 40, salt: Buffer.alloc(16, 2), expires: NOW + 60 });
    expect(solveChallenge(hard, 1000)).toBeUndefined();
  });
});
