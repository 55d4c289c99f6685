// Our key ring as data: each key's lifecycle timestamps, the state they give it at a moment
// (next, current, retiring, retired, revoked), which keys sign what and are published, and the
// operator's transitions (rotate with the §8.3 dual-signed overlap, revoke, forget). No I/O.

/** One key's lifecycle; a missing moment has not been scheduled. */
export interface RingKey {
  readonly key_id: string;
  /** listed in the key set's `keys` (and signing it) from here */
  readonly published_at: number;
  /** signs requests and messages from here */
  readonly signs_from: number;
  /** stops signing requests here; stays in `keys` and keeps signing the key set */
  readonly signs_until?: number | undefined;
  /** moves to `old_keys` here */
  readonly retired_at?: number | undefined;
  /** the `expired_at` published in `old_keys` (retired_at unless a seed says otherwise) */
  readonly expired_at?: number | undefined;
  /** no longer published at all from here */
  readonly drop_at?: number | undefined;
  /** listed only under `revoked` from here, and never trusted again */
  readonly revoked_at?: number | undefined;
}

export type KeyState = 'pending' | 'next' | 'current' | 'retiring' | 'retired' | 'dropped' | 'revoked';

export function keyState(key: RingKey, now: number): KeyState {
  const reached = (at: number | undefined) => at !== undefined && at <= now;
  if (reached(key.revoked_at)) return 'revoked';
  if (reached(key.drop_at)) return 'dropped';
  if (reached(key.retired_at)) return 'retired';
  if (reached(key.signs_until)) return 'retiring';
  if (reached(key.signs_from)) return 'current';
  if (reached(key.published_at)) return 'next';
  return 'pending';
}

export interface PublishedRing {
  /** in `keys`, each signing the key set: next, current and retiring keys */
  readonly keys: readonly string[];
  readonly oldKeys: ReadonlyArray<{ readonly key_id: string; readonly expired_at: number }>;
  readonly revoked: ReadonlyArray<{ readonly key_id: string; readonly revoked_at: number }>;
  /** the key that signs requests and messages now: the current key that started signing last */
  readonly requestSigner: string | undefined;
}

export function publishedAt(ring: readonly RingKey[], now: number): PublishedRing {
  const keys: string[] = [];
  const oldKeys: { key_id: string; expired_at: number }[] = [];
  const revoked: { key_id: string; revoked_at: number }[] = [];
  let signer: RingKey | undefined;
  for (const key of ring) {
    const state = keyState(key, now);
    if (state === 'next' || state === 'current' || state === 'retiring') keys.push(key.key_id);
    if (state === 'current' && (signer === undefined || key.signs_from >= signer.signs_from)) signer = key;
    if (state === 'retired') oldKeys.push({ key_id: key.key_id, expired_at: key.expired_at ?? key.retired_at ?? now });
    if (state === 'revoked') revoked.push({ key_id: key.key_id, revoked_at: key.revoked_at ?? now });
  }
  return { keys, oldKeys, revoked, requestSigner: signer?.key_id };
}

/** The next moment at which some key changes state (what the published set looks like changes). */
export function nextChangeAfter(ring: readonly RingKey[], now: number): number | undefined {
  let soonest: number | undefined;
  for (const key of ring) {
    for (const at of [key.published_at, key.signs_from, key.signs_until, key.retired_at, key.drop_at, key.revoked_at]) {
      if (at !== undefined && at > now && (soonest === undefined || at < soonest)) soonest = at;
    }
  }
  return soonest;
}

export type RingResult =
  | { readonly ok: true; readonly ring: RingKey[] }
  | { readonly ok: false; readonly reason: string };

export interface RotateTimes {
  /** how long the new key is published (and signs the key set) before it signs requests; the old
   * key then keeps signing the key set as long again before it retires */
  readonly overlapS: number;
  /** how long a retired key stays in `old_keys`, so mail it signed keeps verifying */
  readonly retainS: number;
}

/**
 * Starts a rotation to `newKeyId` at `now`: the new key is published at once and signs requests after
 * the overlap; every current key stops signing requests then and retires one overlap later.
 */
export function rotate(ring: readonly RingKey[], newKeyId: string, now: number, times: RotateTimes): RingResult {
  if (ring.some((k) => k.key_id === newKeyId)) return { ok: false, reason: `${newKeyId} is already in the ring` };
  if (ring.some((k) => keyState(k, now) === 'next' || keyState(k, now) === 'pending'))
    return { ok: false, reason: 'a rotation is already under way' };
  const switchAt = now + times.overlapS;
  const retireAt = switchAt + times.overlapS;
  const updated = ring.map((k): RingKey => {
    if (keyState(k, now) !== 'current') return k;
    return {
      ...k,
      signs_until: switchAt,
      retired_at: retireAt,
      expired_at: retireAt,
      drop_at: retireAt + times.retainS,
    };
  });
  return { ok: true, ring: [...updated, { key_id: newKeyId, published_at: now, signs_from: switchAt }] };
}

/**
 * Revokes `keyId` at `now`. Revoking the key that signs requests needs another published key to take
 * over, which starts signing at once; revoking the key a rotation was heading for calls the rotation off.
 */
export function revoke(ring: readonly RingKey[], keyId: string, now: number): RingResult {
  const target = ring.find((k) => k.key_id === keyId);
  if (!target) return { ok: false, reason: `${keyId} is not in the ring` };
  if (keyState(target, now) === 'revoked') return { ok: false, reason: `${keyId} is already revoked` };
  const handingOver = keyState(target, now) === 'next' || keyState(target, now) === 'pending';
  let updated = ring.map((k): RingKey => {
    if (k.key_id === keyId) return { ...k, revoked_at: now };
    // a rotation towards the revoked key is called off: the keys it was to replace keep signing
    if (handingOver && k.signs_until === target.signs_from && keyState(k, now) === 'current')
      return { key_id: k.key_id, published_at: k.published_at, signs_from: k.signs_from };
    return k;
  });
  if (publishedAt(ring, now).requestSigner === keyId) {
    const successor = updated.find((k) => {
      const state = keyState(k, now);
      return state === 'next' || state === 'current';
    });
    if (!successor) return { ok: false, reason: `${keyId} is the only signing key: rotate first` };
    updated = updated.map(
      (k): RingKey =>
        k.key_id === successor.key_id ? { ...k, published_at: Math.min(k.published_at, now), signs_from: now } : k,
    );
  }
  return { ok: true, ring: updated };
}

/** Removes a key that signs nothing any more (retired, dropped or revoked) from the ring entirely. */
export function forget(ring: readonly RingKey[], keyId: string, now: number): RingResult {
  const target = ring.find((k) => k.key_id === keyId);
  if (!target) return { ok: false, reason: `${keyId} is not in the ring` };
  const state = keyState(target, now);
  if (state !== 'retired' && state !== 'dropped' && state !== 'revoked')
    return { ok: false, reason: `${keyId} is ${state}: only retired or revoked keys can be forgotten` };
  return { ok: true, ring: ring.filter((k) => k.key_id !== keyId) };
}
