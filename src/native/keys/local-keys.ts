// Our own domain keys: loads the Ed25519 key from `pmtp.key_file` (plus retired keys kept for
// rotation) and builds the self-signed key set served at /.well-known/pmtp/keys.
// Security: private keys stay in memory only; the key set lists public halves.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Config } from '../../config/schema.js';
import { currentKeyEntry, type KeySet, keyIdOf, oldKeyEntry, signKeySet } from '../protocol/domain-keys.js';
import { rawPublicKey, toPrivateKey } from '../protocol/ed25519.js';
import type { Signer } from '../protocol/request-signature.js';

export interface LocalKey {
  readonly keyId: string;
  readonly privateKey: KeyObject;
  readonly publicKey: Buffer;
}

export interface LocalKeyRing {
  readonly domain: string;
  readonly current: LocalKey;
  readonly retired: ReadonlyArray<LocalKey & { readonly expiredAt: number }>;
  /** What signRequest/signResponse take. */
  readonly signer: Signer;
  /** Our signed key set as of `nowS` (cached for an hour). */
  keySet(nowS: number): KeySet;
}

export function localKeyFromPem(pem: string | Buffer): LocalKey {
  const privateKey = toPrivateKey(createPrivateKey(pem));
  const publicKey = rawPublicKey(privateKey);
  return { keyId: keyIdOf(publicKey), privateKey, publicKey };
}

export function buildKeyRing(
  domain: string,
  current: LocalKey,
  retired: ReadonlyArray<LocalKey & { expiredAt: number }>,
  validDays: number,
): LocalKeyRing {
  let cached: { set: KeySet; until: number } | undefined;
  return {
    domain,
    current,
    retired,
    signer: { domain, keyId: current.keyId, privateKey: current.privateKey },
    keySet(nowS) {
      if (cached && nowS < cached.until) return cached.set;
      const unsigned = {
        v: 1 as const,
        domain,
        published: nowS,
        keys: [currentKeyEntry(current.publicKey, nowS + validDays * 86_400)],
        old_keys: retired.map((k) => oldKeyEntry(k.publicKey, k.expiredAt)),
      };
      cached = { set: signKeySet(unsigned, [current.privateKey]), until: nowS + 3600 };
      return cached.set;
    },
  };
}

/** Reads `pmtp.key_file` and `pmtp.retired_keys[*].key_file` (PKCS#8 PEM, `mailbridge keys generate`). */
export async function loadKeyRing(config: Pick<Config, 'pmtp'>): Promise<LocalKeyRing> {
  const { domain, key_file: keyFile } = config.pmtp;
  if (!domain || !keyFile) throw new Error('pmtp.domain and pmtp.key_file are required to run PMTP');
  const current = localKeyFromPem(await readFile(keyFile));
  const retired = [];
  for (const r of config.pmtp.retired_keys) {
    retired.push({ ...localKeyFromPem(await readFile(r.key_file)), expiredAt: r.expired_at });
  }
  return buildKeyRing(domain, current, retired, config.pmtp.key_valid_days);
}
