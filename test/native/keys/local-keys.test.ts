// Our key ring as the gateway loads it: seeded from key_file until a ring file exists, the ring file
// read through its schema (a broken one names the file), a rewritten file picked up by reload, and the
// served key set re-signed with a fresh valid_until every refresh interval and at each state change.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRingFile, writeRingFile } from '../../../src/native/keys/key-ring-file.js';
import { rotate } from '../../../src/native/keys/key-ring-state.js';
import { loadDomainKeyRing } from '../../../src/native/keys/local-keys.js';
import { generateDomainKey, verifyKeySet } from '../../../src/native/protocol/domain-keys.js';
import { tempDir } from '../../support/tmp.js';

describe('local key ring', () => {
  let folder: Awaited<ReturnType<typeof tempDir>>;
  const seed = generateDomainKey();
  let keyFile: string;
  let ringFile: string;
  let now = 1_800_000_000;
  const timing = { validS: 7 * 86_400, refreshS: 3600, nowS: () => now };

  beforeAll(async () => {
    folder = await tempDir('local-keys');
    keyFile = path.join(folder.dir, 'pmtp.key');
    ringFile = path.join(folder.dir, 'keys', 'a.example.ring.json');
    await writeFile(keyFile, seed.privatePem, { mode: 0o600 });
  });
  afterAll(() => folder?.remove());

  it('serves the seed key, and renews valid_until every refresh interval', async () => {
    const ring = await loadDomainKeyRing('a.example', { ringFile, keyFile }, timing);
    expect(ring.current.keyId).toBe(seed.keyId);
    const first = ring.keySet(now);
    expect(first.keys).toEqual([expect.objectContaining({ key_id: seed.keyId, valid_until: now + 7 * 86_400 })]);
    expect(ring.keySet(now + 3599)).toBe(first);
    const renewed = ring.keySet(now + 3600);
    expect(renewed.keys[0]?.valid_until).toBe(now + 3600 + 7 * 86_400);
    expect(verifyKeySet(renewed, { domain: 'a.example', now: now + 3600, pinnedKeyId: seed.keyId }).ok).toBe(true);
  });

  it('picks up a rewritten ring file on reload and re-signs at each state change', async () => {
    const ring = await loadDomainKeyRing('a.example', { ringFile, keyFile }, timing);
    const fresh = generateDomainKey();
    const rotated = rotate([{ key_id: seed.keyId, published_at: 0, signs_from: 0 }], fresh.keyId, now, {
      overlapS: 600,
      retainS: 86_400,
    });
    if (!rotated.ok) throw new Error(rotated.reason);
    const pem = new Map([
      [seed.keyId, seed.privatePem],
      [fresh.keyId, fresh.privatePem],
    ]);
    await writeRingFile(ringFile, {
      v: 1,
      domain: 'a.example',
      keys: rotated.ring.map((k) => ({ ...k, private_key: pem.get(k.key_id)! })),
    });
    expect(ring.keySet(now).keys).toHaveLength(1);
    await ring.reload();
    const both = ring.keySet(now);
    expect(both.signatures.map((s) => s.key_id).sort()).toEqual([seed.keyId, fresh.keyId].sort());
    expect(ring.current.keyId).toBe(seed.keyId);
    now += 600; // the switch: rebuilt although the refresh interval has not passed
    expect(ring.current.keyId).toBe(fresh.keyId);
    expect(ring.keySet(now)).not.toBe(both);
    now += 600;
    expect(ring.keySet(now).old_keys.map((k) => k.key_id)).toEqual([seed.keyId]);
  });

  it('refuses a ring file that is malformed, for another domain, or whose key ids lie', async () => {
    const bad = path.join(folder.dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ v: 1, domain: 'a.example', keys: [{ key_id: 'x' }] }));
    await expect(readRingFile(bad)).rejects.toThrow(`${bad}: key ring is malformed at keys.0.key_id`);
    await expect(loadDomainKeyRing('b.example', { ringFile }, timing)).rejects.toThrow(/is for a\.example/);
    const ring = await readRingFile(ringFile);
    const lying = path.join(folder.dir, 'lying.json');
    await writeFile(
      lying,
      JSON.stringify({ ...ring, keys: ring!.keys.map((k) => ({ ...k, private_key: generateDomainKey().privatePem })) }),
    );
    await expect(loadDomainKeyRing('a.example', { ringFile: lying }, timing)).rejects.toThrow(
      /does not match its private key/,
    );
  });
});
