// The key ring's lifecycle: a rotation publishes the new key before it signs and keeps the old one
// signing the key set during the overlap; revocation hands signing over or is refused; and, for any
// sequence of operations, the published lists stay disjoint and a revoked key never signs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  forget,
  keyState,
  nextChangeAfter,
  publishedAt,
  type RingKey,
  revoke,
  rotate,
} from '../../../src/native/keys/key-ring-state.js';

const T0 = 1_000_000;
const times = { overlapS: 100, retainS: 1000 };
const start: RingKey[] = [{ key_id: 'k0', published_at: 0, signs_from: 0 }];

function mustRotate(ring: readonly RingKey[], id: string, now: number, t = times): RingKey[] {
  const result = rotate(ring, id, now, t);
  if (!result.ok) throw new Error(result.reason);
  return result.ring;
}

describe('rotate', () => {
  it('walks old and new keys through the dual-signed overlap of §8.3', () => {
    const ring = mustRotate(start, 'k1', T0);
    // at once: both in keys (both sign the key set), the old key still signs requests
    expect(publishedAt(ring, T0)).toMatchObject({ keys: ['k0', 'k1'], requestSigner: 'k0', oldKeys: [] });
    expect(keyState(ring[1]!, T0)).toBe('next');
    // after one overlap: the new key signs requests, the old one still signs the key set
    expect(publishedAt(ring, T0 + 100)).toMatchObject({ keys: ['k0', 'k1'], requestSigner: 'k1' });
    expect(keyState(ring[0]!, T0 + 100)).toBe('retiring');
    // after two: the old key is in old_keys with expired_at, for mail it signed
    expect(publishedAt(ring, T0 + 200)).toMatchObject({
      keys: ['k1'],
      oldKeys: [{ key_id: 'k0', expired_at: T0 + 200 }],
      requestSigner: 'k1',
    });
    // after the retention: gone
    expect(publishedAt(ring, T0 + 1200)).toMatchObject({ keys: ['k1'], oldKeys: [], revoked: [] });
    expect(nextChangeAfter(ring, T0)).toBe(T0 + 100);
    expect(nextChangeAfter(ring, T0 + 100)).toBe(T0 + 200);
  });

  it('refuses a second rotation while one is under way, and a key already in the ring', () => {
    const ring = mustRotate(start, 'k1', T0);
    expect(rotate(ring, 'k2', T0 + 50, times)).toMatchObject({ ok: false, reason: /under way/ });
    expect(rotate(ring, 'k0', T0 + 150, times)).toMatchObject({ ok: false, reason: /already in the ring/ });
    expect(rotate(ring, 'k2', T0 + 150, times).ok).toBe(true);
  });
});

describe('revoke', () => {
  it('lists a revoked key only under revoked', () => {
    const ring = mustRotate(start, 'k1', T0);
    const result = revoke(ring, 'k1', T0 + 10);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(publishedAt(result.ring, T0 + 10)).toMatchObject({
      keys: ['k0'],
      revoked: [{ key_id: 'k1', revoked_at: T0 + 10 }],
      requestSigner: 'k0',
    });
    // the rotation is called off: the old key keeps signing past the planned switch and never retires
    expect(publishedAt(result.ring, T0 + 100).requestSigner).toBe('k0');
    expect(publishedAt(result.ring, T0 + 10_000)).toMatchObject({ keys: ['k0'], requestSigner: 'k0' });
  });

  it('hands request signing to the next key when the signing key is revoked', () => {
    const ring = mustRotate(start, 'k1', T0);
    const result = revoke(ring, 'k0', T0 + 10);
    expect(result.ok && publishedAt(result.ring, T0 + 10)).toMatchObject({
      keys: ['k1'],
      requestSigner: 'k1',
      revoked: [{ key_id: 'k0' }],
    });
  });

  it('refuses to revoke the only signing key, and a key twice', () => {
    expect(revoke(start, 'k0', T0)).toMatchObject({ ok: false, reason: /rotate first/ });
    const ring = mustRotate(start, 'k1', T0);
    const once = revoke(ring, 'k1', T0);
    expect(once.ok && revoke(once.ring, 'k1', T0 + 1)).toMatchObject({ ok: false, reason: /already revoked/ });
    expect(revoke(start, 'nope', T0)).toMatchObject({ ok: false });
  });
});

describe('forget', () => {
  it('drops retired and revoked keys only', () => {
    const ring = mustRotate(start, 'k1', T0);
    expect(forget(ring, 'k0', T0 + 150)).toMatchObject({ ok: false, reason: /retiring/ });
    const later = forget(ring, 'k0', T0 + 250);
    expect(later.ok && later.ring.map((k) => k.key_id)).toEqual(['k1']);
    expect(forget(ring, 'k1', T0 + 250)).toMatchObject({ ok: false, reason: /current/ });
  });
});

type Op =
  | { kind: 'rotate'; advance: number; overlap: number }
  | { kind: 'revoke'; advance: number; pick: number }
  | { kind: 'forget'; advance: number; pick: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('rotate' as const), advance: fc.nat(500), overlap: fc.integer({ min: 1, max: 300 }) }),
  fc.record({ kind: fc.constant('revoke' as const), advance: fc.nat(500), pick: fc.nat() }),
  fc.record({ kind: fc.constant('forget' as const), advance: fc.nat(500), pick: fc.nat() }),
);

/** Applies ops; refused ones change nothing, as the CLI leaves the file alone. */
function run(ops: readonly Op[]): { ring: RingKey[]; end: number; overlaps: number[]; revoked: boolean } {
  let ring: RingKey[] = [...start];
  let now = T0;
  let n = 1;
  const overlaps: number[] = [];
  let revoked = false;
  for (const op of ops) {
    now += op.advance;
    const id = ring[('pick' in op ? op.pick : 0) % ring.length]?.key_id ?? 'none';
    const result =
      op.kind === 'rotate'
        ? rotate(ring, `k${n}`, now, { overlapS: op.overlap, retainS: 1000 })
        : op.kind === 'revoke'
          ? revoke(ring, id, now)
          : forget(ring, id, now);
    if (result.ok) {
      ring = result.ring;
      if (op.kind === 'rotate') {
        n++;
        overlaps.push(op.overlap);
      }
      if (op.kind === 'revoke') revoked = true;
    }
  }
  return { ring, end: now, overlaps, revoked };
}

describe('key ring properties', () => {
  it('publishes each key in one list at most, always has a signer, and never lets a revoked key sign', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 20 }), fc.nat(3000), (ops, probe) => {
        const { ring, end } = run(ops);
        const at = end - 1500 + probe;
        const view = publishedAt(ring, at);
        const all = [...view.keys, ...view.oldKeys.map((k) => k.key_id), ...view.revoked.map((k) => k.key_id)];
        expect(new Set(all).size).toBe(all.length);
        // no operation the ring accepts leaves it without a signing key from then on
        if (at >= end) expect(view.requestSigner).toBeDefined();
        const revokedIds = new Set(view.revoked.map((k) => k.key_id));
        if (view.requestSigner !== undefined) {
          expect(view.keys).toContain(view.requestSigner);
          expect(revokedIds.has(view.requestSigner)).toBe(false);
        }
      }),
    );
  });

  it('without revocations always has a signing key, and sets less than two overlaps apart share a signer', () => {
    const rotations = fc.array(
      fc.record({
        kind: fc.constant('rotate' as const),
        advance: fc.nat(500),
        overlap: fc.integer({ min: 1, max: 300 }),
      }),
      { maxLength: 15 },
    );
    fc.assert(
      fc.property(rotations, fc.nat(4000), fc.nat(600), (ops, probe, gap) => {
        const { ring, end, overlaps } = run(ops);
        const t1 = T0 + (probe % (end - T0 + 600));
        const t2 = t1 + Math.min(gap, 2 * Math.min(...overlaps) - 1);
        const first = publishedAt(ring, t1);
        const second = publishedAt(ring, t2);
        expect(first.requestSigner).toBeDefined();
        expect(second.requestSigner).toBeDefined();
        // a verifier that trusted the set at t1 and refetches before two overlaps pass finds a key it
        // knows among the signers at t2: the old key signs the set one overlap past the switch
        expect(second.keys.some((id) => first.keys.includes(id))).toBe(true);
      }),
    );
  });
});
