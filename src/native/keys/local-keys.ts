// Our own domain keys: loads one domain's key ring (the ring file, else `pmtp.key_file` and its
// retired keys as the ring's seed), says which key signs requests now, and builds the self-signed key
// set served at /.well-known/pmtp/keys, signed by every published key and renewed as time passes.
// Security: private keys stay in memory only; the key set lists public halves.
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { Config } from '../../config/schema.js';
import { currentKeyEntry, type KeySet, keyIdOf, oldKeyEntry, signKeySet } from '../protocol/domain-keys.js';
import { rawPublicKey, toPrivateKey } from '../protocol/ed25519.js';
import type { Signer } from '../protocol/request-signature.js';
import { defaultRingPath, type RingFile, type RingFileKey, readRingFile } from './key-ring-file.js';
import { nextChangeAfter, publishedAt, type RingKey } from './key-ring-state.js';

export interface LocalKey {
  readonly keyId: string;
  readonly privateKey: KeyObject;
  readonly publicKey: Buffer;
}

export interface LocalKeyRing {
  readonly domain: string;
  /** The key that signs requests and messages now. */
  readonly current: LocalKey;
  /** What signRequest/signResponse take (the current key). */
  readonly signer: Signer;
  /** Our signed key set as of `nowS`: rebuilt every refresh interval and whenever a key changes state. */
  keySet(nowS: number): KeySet;
  /** Re-reads the ring file when it changed on disk (a `mailbridge keys` command ran). */
  reload(): Promise<void>;
}

export interface RingTiming {
  /** `valid_until` of each published key is now + this */
  readonly validS: number;
  /** the served key set is re-signed (and its valid_until pushed on) at least this often */
  readonly refreshS: number;
  readonly nowS: () => number;
}

export interface RingPaths {
  /** where the ring is kept; when it does not exist the seed below is the ring */
  readonly ringFile?: string | undefined;
  readonly keyFile?: string | undefined;
  readonly retiredKeys?: ReadonlyArray<{ readonly key_file: string; readonly expired_at: number }>;
}

export function localKeyFromPem(pem: string | Buffer): LocalKey {
  const privateKey = toPrivateKey(createPrivateKey(pem));
  const publicKey = rawPublicKey(privateKey);
  return { keyId: keyIdOf(publicKey), privateKey, publicKey };
}

type HeldKey = { readonly local: LocalKey; readonly record: RingKey };

/** A ring over keys in memory; `reread` (if given) yields a fresh list when the file changed. */
export function keyRingOf(
  domain: string,
  initial: readonly HeldKey[],
  timing: RingTiming,
  reread?: () => Promise<readonly HeldKey[] | undefined>,
): LocalKeyRing {
  let held = initial;
  let cached: { set: KeySet; until: number } | undefined;
  const signingKey = (): LocalKey => {
    const id = publishedAt(
      held.map((k) => k.record),
      timing.nowS(),
    ).requestSigner;
    const found = held.find((k) => k.local.keyId === id);
    if (!found) throw new Error(`pmtp key ring of ${domain} has no current key`);
    return found.local;
  };
  const ring: LocalKeyRing = {
    domain,
    get current() {
      return signingKey();
    },
    get signer() {
      const key = signingKey();
      return { domain, keyId: key.keyId, privateKey: key.privateKey };
    },
    keySet(nowS) {
      if (cached && nowS < cached.until) return cached.set;
      const records = held.map((k) => k.record);
      const view = publishedAt(records, nowS);
      const byId = new Map(held.map((k) => [k.local.keyId, k.local]));
      const pick = (id: string) => byId.get(id) as LocalKey;
      const current = view.keys.map(pick);
      if (current.length === 0) throw new Error(`pmtp key ring of ${domain} publishes no key`);
      const unsigned = {
        v: 1 as const,
        domain,
        published: nowS,
        keys: current.map((k) => currentKeyEntry(k.publicKey, nowS + timing.validS)),
        old_keys: view.oldKeys.map((k) => oldKeyEntry(pick(k.key_id).publicKey, k.expired_at)),
        ...(view.revoked.length > 0 ? { revoked: view.revoked.map((k) => ({ ...k })) } : {}),
      };
      const change = nextChangeAfter(records, nowS);
      const until = Math.min(nowS + timing.refreshS, change ?? Number.POSITIVE_INFINITY);
      cached = {
        set: signKeySet(
          unsigned,
          current.map((k) => k.privateKey),
        ),
        until,
      };
      return cached.set;
    },
    async reload() {
      const fresh = await reread?.();
      if (!fresh) return;
      held = fresh;
      cached = undefined;
    },
  };
  signingKey();
  return ring;
}

/** A ring of one current key and earlier retired ones (the old configuration's shape; tests). */
export function buildKeyRing(
  domain: string,
  current: LocalKey,
  retired: ReadonlyArray<LocalKey & { expiredAt: number }>,
  validDays: number,
  nowS: () => number = () => Math.floor(Date.now() / 1000),
): LocalKeyRing {
  return keyRingOf(domain, seedKeys(current, retired), { validS: validDays * 86_400, refreshS: 3600, nowS });
}

function seedKeys(current: LocalKey, retired: ReadonlyArray<LocalKey & { expiredAt: number }>): HeldKey[] {
  return [
    { local: current, record: { key_id: current.keyId, published_at: 0, signs_from: 0 } },
    ...retired.map((r) => ({
      local: r,
      record: {
        key_id: r.keyId,
        published_at: 0,
        signs_from: 0,
        signs_until: 0,
        retired_at: 0,
        expired_at: r.expiredAt,
      },
    })),
  ];
}

/** The ring file's keys, each checked against its id; an error names the file. */
export function heldKeysOf(file: string, ring: RingFile): HeldKey[] {
  return ring.keys.map((k: RingFileKey) => {
    const local = localKeyFromPem(k.private_key);
    if (local.keyId !== k.key_id) throw new Error(`${file}: ${k.key_id} does not match its private key`);
    const { private_key: _pem, ...record } = k;
    return { local, record };
  });
}

/** The seed from `key_file` and `retired_keys`, or undefined without a key_file. */
export async function seedFromConfig(paths: RingPaths): Promise<HeldKey[] | undefined> {
  if (!paths.keyFile) return undefined;
  const current = localKeyFromPem(await readFile(paths.keyFile));
  const retired = [];
  for (const r of paths.retiredKeys ?? [])
    retired.push({ ...localKeyFromPem(await readFile(r.key_file)), expiredAt: r.expired_at });
  return seedKeys(current, retired);
}

/** Loads the key ring of `domain`: the ring file if it exists, else the seed from key_file. */
export async function loadDomainKeyRing(domain: string, paths: RingPaths, timing: RingTiming): Promise<LocalKeyRing> {
  const file = paths.ringFile;
  const fromFile = async (): Promise<HeldKey[] | undefined> => {
    if (!file) return undefined;
    const ring = await readRingFile(file);
    if (!ring) return undefined;
    if (ring.domain !== domain) throw new Error(`${file}: key ring is for ${ring.domain}, not ${domain}`);
    return heldKeysOf(file, ring);
  };
  // the file is replaced by rename, so a new inode tells a rewrite even within one mtime tick
  const versionOf = async (): Promise<string | undefined> =>
    file
      ? await stat(file).then(
          (s) => `${s.ino}:${s.mtimeMs}:${s.size}`,
          () => undefined,
        )
      : undefined;
  let seen = await versionOf();
  const held = (await fromFile()) ?? (await seedFromConfig(paths));
  if (!held)
    throw new Error(`pmtp.key_file or a key ring file (${file ?? 'pmtp.key_ring_file'}) is required to run PMTP`);
  return keyRingOf(domain, held, timing, async () => {
    const version = await versionOf();
    if (version === undefined || version === seen) return undefined;
    seen = version;
    return fromFile();
  });
}

/**
 * Ring file path, seed and timing of one of our domains: `pmtp.domain` uses the `pmtp` keys, a domain
 * of `domains.settings` with its own `pmtp.key_file` its own ring file beside the default one.
 */
export function ringConfigOf(
  config: Pick<Config, 'pmtp' | 'spool' | 'domains'>,
  domain: string,
): { paths: RingPaths; timing: Omit<RingTiming, 'nowS'> } {
  const { pmtp } = config;
  const timing = { validS: pmtp.key_valid_days * 86_400, refreshS: pmtp.key_refresh_s };
  if (domain !== pmtp.domain) {
    const own = config.domains.settings[domain]?.pmtp;
    if (!own) throw new Error(`${domain} is neither pmtp.domain nor a domains.settings entry with pmtp keys`);
    // an added domain starts without retired keys: pmtp.retired_keys belong to the default domain
    return { paths: { ringFile: defaultRingPath(config.spool.dir, domain), keyFile: own.key_file }, timing };
  }
  return {
    paths: {
      ringFile: pmtp.key_ring_file ?? defaultRingPath(config.spool.dir, domain),
      keyFile: pmtp.key_file,
      retiredKeys: pmtp.retired_keys,
    },
    timing,
  };
}

/** The key ring of `pmtp.domain`. */
export async function loadKeyRing(
  config: Pick<Config, 'pmtp' | 'spool' | 'domains'>,
  nowS: () => number = () => Math.floor(Date.now() / 1000),
): Promise<LocalKeyRing> {
  const domain = config.pmtp.domain;
  if (!domain) throw new Error('pmtp.domain is required to run PMTP');
  const { paths, timing } = ringConfigOf(config, domain);
  return loadDomainKeyRing(domain, paths, { ...timing, nowS });
}
