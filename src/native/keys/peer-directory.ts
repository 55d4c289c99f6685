// Where a peer domain's PMTP/1 server is and which keys it signs with: the static directory in
// config first (entries with `keys` need no fetch), else the `_pmtp.<domain>` TXT record confirmed by
// the domain's HTTPS trust anchor (§8.6); key sets are fetched, verified against the pin, must continue
// the set trusted before (§8.8) and are cached until their earliest valid_until, an hour at most. A
// failed fetch is remembered for a minute, so unsigned traffic naming a domain cannot make us fetch again and again.
import type { StatusCode } from '../../codes.js';
import type { Config } from '../../config/schema.js';
import type { MailResolver } from '../../dns/resolver.js';
import { isNoData } from '../../dns/resolver.js';
import { LruMap } from '../../net/lru-map.js';
import { tryFromBase64Url } from '../protocol/bytes.js';
import { discoveryName, selectDiscoveryRecord } from '../protocol/dns-discovery.js';
import { type KeySet, keyIdOf, keySetLookup, keyValidAt, verifyKeySet } from '../protocol/domain-keys.js';
import type { KeyLookup } from '../protocol/ed25519.js';
import { keysUrl } from '../protocol/endpoints.js';
import { continuityOf, keySetSigners, type PeerTrustStore, trustRecordOf } from '../protocol/key-continuity.js';
import { PmtpRequestError } from '../protocol/pmtp-request-error.js';
import { isEndpoint } from '../protocol/protocol-fields.js';
import type { DiscoveryAnchor } from './discovery-anchor.js';

export interface PeerRecord {
  readonly endpoint: string;
  readonly fingerprint?: string;
  /** Keys from static config: trusted as given, never fetched. */
  readonly staticKeys?: KeySet;
  /** Key-set signing keys the domain's HTTPS anchor confirmed for this endpoint (§8.6). */
  readonly anchorKeys?: readonly string[];
  /** From the static directory: the operator vouches for the endpoint, as an anchor would (§8.5). */
  readonly configured?: true;
}

export interface PeerDirectoryDeps {
  readonly config: Pick<Config, 'pmtp'>;
  readonly resolver: MailResolver;
  /** Unsigned GET returning parsed JSON (the key set is self-signed). */
  readonly fetchJson: (url: string) => Promise<unknown>;
  /** The HTTPS trust anchor; without it (or with pmtp.discovery_anchor off) DNS alone is believed. */
  readonly anchor?: DiscoveryAnchor;
  /** Key sets trusted before, per domain; without it continuity is not checked. */
  readonly trust?: PeerTrustStore;
  readonly nowS: () => number;
  /** Our own domains (every identity this gateway answers for) answer from memory. */
  readonly self?: (domain: string) => OwnDomain | undefined;
}

export interface OwnDomain {
  readonly endpoint: () => string;
  readonly keySet: (nowS: number) => KeySet;
}

const DISCOVERY_TTL_S = 3600;
const REFETCH_INTERVAL_S = 60;
/** how long a failed discovery or key fetch answers from memory */
export const FAILURE_TTL_S = 60;
/** peers remembered at once, per cache: past this the least recently used is forgotten */
export const PEER_CACHE_ENTRIES = 10_000;
const FAR_FUTURE = 2 ** 40;
/** a key set is refetched at least this often, so a revocation reaches us within the hour */
const KEYSET_MAX_AGE_S = 3600;

export class PeerDirectory {
  private readonly records = new LruMap<string, { record: PeerRecord; until: number }>(PEER_CACHE_ENTRIES);
  private readonly keySets = new LruMap<string, { set: KeySet; until: number; fetchedAt: number }>(PEER_CACHE_ENTRIES);
  private readonly failures = new LruMap<string, { error: unknown; until: number }>(PEER_CACHE_ENTRIES);
  private readonly inflight = new Map<string, Promise<KeySet>>();
  /** Looks keys up, refetching (at most once a minute per domain) on an unknown key id. */
  readonly keyLookup: KeyLookup;

  constructor(private readonly deps: PeerDirectoryDeps) {
    const cached = keySetLookup((domain) => this.keySet(domain).catch(() => undefined));
    this.keyLookup = async (domain, keyId, at) => {
      const key = await cached(domain, keyId, at);
      if (key !== undefined) return key;
      const entry = this.keySets.get(domain);
      if (!entry || this.deps.nowS() - entry.fetchedAt < REFETCH_INTERVAL_S) return undefined;
      const fresh = await this.keySet(domain, true).catch(() => undefined);
      const found = fresh ? keyValidAt(fresh, keyId, at) : undefined;
      return found?.ok ? found.value : undefined;
    };
  }

  /** Endpoint and pin of `domain`; throws PmtpRequestError when it has none. */
  async discover(domain: string): Promise<PeerRecord> {
    const self = this.deps.self?.(domain);
    if (self) return { endpoint: self.endpoint(), staticKeys: self.keySet(this.deps.nowS()) };
    const now = this.deps.nowS();
    const hit = this.records.get(domain);
    if (hit && now < hit.until) return hit.record;
    const record = this.fromConfig(domain) ?? (await this.fromDns(domain));
    this.records.set(domain, { record, until: now + DISCOVERY_TTL_S });
    return record;
  }

  async endpointOf(domain: string): Promise<string> {
    return (await this.discover(domain)).endpoint;
  }

  /** The verified key set of `domain` (cached until its earliest valid_until). */
  async keySet(domain: string, refresh = false): Promise<KeySet> {
    const now = this.deps.nowS();
    const hit = this.keySets.get(domain);
    if (hit && !refresh && now <= hit.until) return hit.set;
    const running = this.inflight.get(domain);
    if (running) return running;
    const failed = this.failures.get(domain);
    if (failed && now < failed.until) throw failed.error;
    const task = this.fetchKeySet(domain)
      .catch((err: unknown) => {
        this.failures.set(domain, { error: err, until: this.deps.nowS() + FAILURE_TTL_S });
        throw err;
      })
      .finally(() => this.inflight.delete(domain));
    this.inflight.set(domain, task);
    return task;
  }

  /**
   * `keyId` of `domain` from the cached key set alone (no fetch), valid at `at`. A key id is the
   * key's digest, so a key found here is the domain's own: no delegate grant need be looked up.
   */
  heldKey(domain: string, keyId: string, at: number): Buffer | undefined {
    const hit = this.keySets.get(domain);
    if (!hit || this.deps.nowS() > hit.until) return undefined;
    const found = keyValidAt(hit.set, keyId, at);
    return found.ok ? found.value : undefined;
  }

  /** Whether a key lookup for `domain` needs no fetch: keys from config, a cached set, or a cached failure. */
  answersFromMemory(domain: string): boolean {
    if (this.deps.self?.(domain) !== undefined || (this.deps.config.pmtp.directory[domain]?.keys.length ?? 0) > 0)
      return true;
    const failed = this.failures.get(domain);
    return this.keySets.get(domain) !== undefined || (failed !== undefined && this.deps.nowS() < failed.until);
  }

  /** Whether the cached key set of `domain` lists `keyId` as revoked (§8.7). */
  isRevoked(domain: string, keyId: string): boolean {
    return this.keySets.get(domain)?.set.revoked?.some((k) => k.key_id === keyId) ?? false;
  }

  /** Forget cached keys (operators rotating a peer by hand; tests). */
  forget(domain?: string): void {
    if (domain === undefined) {
      this.keySets.clear();
      this.records.clear();
      this.failures.clear();
    } else {
      this.keySets.delete(domain);
      this.records.delete(domain);
      this.failures.delete(domain);
      this.deps.anchor?.forget(domain);
    }
  }

  private async fetchKeySet(domain: string): Promise<KeySet> {
    const record = await this.discover(domain);
    const now = this.deps.nowS();
    let set = record.staticKeys;
    if (!set) {
      const document = await this.deps.fetchJson(keysUrl(record.endpoint, domain));
      const verified = verifyKeySet(document, {
        domain,
        now,
        ...(record.fingerprint ? { pinnedKeyId: record.fingerprint } : {}),
      });
      if (!verified.ok) throw new PmtpRequestError(verified.code, `key set of ${domain}: ${verified.detail}`, false);
      set = verified.value;
      await this.checkContinuity(domain, record, set, now);
    }
    const until = Math.min(now + KEYSET_MAX_AGE_S, ...set.keys.map((k) => k.valid_until));
    this.keySets.set(domain, { set, until, fetchedAt: now });
    return set;
  }

  /**
   * A set signed by a key we trusted before continues that trust. Any other set needs the anchor: it
   * must list a key that signed it, for the endpoint DNS gives now (discovery is redone, not reused).
   */
  private async checkContinuity(domain: string, record: PeerRecord, set: KeySet, now: number): Promise<void> {
    const trust = this.deps.trust;
    if (!trust) return;
    const previous = await trust.get(domain);
    const verdict = continuityOf(previous, set);
    if (record.configured) {
      // the configured endpoint (and fingerprint, if set) is the anchor: its keys are believed as served
      await trust.put(
        domain,
        trustRecordOf(set, now, verdict.ok && verdict.value === 'continuous' ? 'continuity' : 'config'),
      );
      return;
    }
    if (verdict.ok) {
      const via = verdict.value === 'continuous' ? 'continuity' : record.anchorKeys ? 'anchor' : 'dns';
      await trust.put(domain, trustRecordOf(set, now, via));
      return;
    }
    this.records.delete(domain);
    this.deps.anchor?.forget(domain);
    const fresh = await this.discover(domain).catch(() => undefined);
    const signers = keySetSigners(set);
    const confirmed =
      fresh?.endpoint === record.endpoint && signers.some((id) => fresh.anchorKeys?.includes(id) ?? false);
    if (!confirmed) throw new PmtpRequestError('keyset_discontinuous', verdict.detail, true);
    await trust.put(domain, trustRecordOf(set, now, 'anchor'));
  }

  private fromConfig(domain: string): PeerRecord | undefined {
    const entry = this.deps.config.pmtp.directory[domain];
    if (!entry) return undefined;
    const endpoint = new URL(entry.endpoint).origin;
    if (!isEndpoint(endpoint))
      throw new PmtpRequestError(
        'discovery_record_invalid',
        `directory endpoint of ${domain} is not an https origin`,
        false,
      );
    const keys = entry.keys.flatMap((k) => {
      const raw = tryFromBase64Url(k.public_key);
      return raw && raw.length === 32 && keyIdOf(raw) === k.id
        ? [{ key_id: k.id, public_key: k.public_key, valid_until: FAR_FUTURE }]
        : [];
    });
    const staticKeys: KeySet | undefined =
      keys.length > 0 ? { v: 1, domain, published: 0, keys, old_keys: [], signatures: [] } : undefined;
    return {
      endpoint,
      configured: true,
      ...(entry.fingerprint ? { fingerprint: entry.fingerprint } : {}),
      ...(staticKeys ? { staticKeys } : {}),
    };
  }

  private async fromDns(domain: string): Promise<PeerRecord> {
    let txt: string[][];
    try {
      txt = await this.deps.resolver.resolveTxt(discoveryName(domain));
    } catch (err) {
      if (isNoData(err)) throw new PmtpRequestError('discovery_record_missing', `${domain} has no _pmtp record`, false);
      throw new PmtpRequestError('route_lookup_failed', `DNS lookup of _pmtp.${domain} failed`, true);
    }
    const found = selectDiscoveryRecord(txt);
    if (!found.ok) throw new PmtpRequestError(found.code, found.detail, false);
    return this.anchored(domain, found.value);
  }

  /**
   * §8.6 downgrade rules: an anchor that disagrees with DNS is believed over it (the record is
   * refused); no anchor at all leaves DNS alone under `prefer`, and refuses the domain under `require`.
   */
  private async anchored(domain: string, record: PeerRecord): Promise<PeerRecord> {
    const mode = this.deps.config.pmtp.discovery_anchor;
    if (mode === 'off' || !this.deps.anchor) return record;
    const answer = await this.deps.anchor.check(domain, record.endpoint, record.fingerprint);
    if (answer.kind === 'confirmed') return { ...record, anchorKeys: answer.keyIds };
    if (answer.kind === 'mismatch' || mode === 'require')
      throw new PmtpRequestError('endpoint_unconfirmed', answer.detail, true);
    return record;
  }
}

/** Failures that stay until the origin changes its DNS or its key set: answered as themselves (§9.1 step 7). */
const LASTING_KEY_FAILURES: ReadonlySet<StatusCode> = new Set<StatusCode>([
  'discovery_record_missing',
  'discovery_record_invalid',
  'egress_refused',
  'keyset_malformed',
  'keyset_wrong_domain',
  'keyset_invalid',
  'keyset_expired',
  'keyset_unpinned',
  'keyset_discontinuous',
  'endpoint_unconfirmed',
]);

/**
 * The code a verifier answers when it could not get an origin's key set at all (rather than a set
 * lacking the key, which is `unknown_key`): a lasting failure keeps its own, non-retryable code; a key
 * endpoint that answers something other than a key set is `keyset_malformed`; the rest is transient.
 */
export function keySourceFailure(err: unknown): StatusCode {
  if (err instanceof PmtpRequestError) {
    if (LASTING_KEY_FAILURES.has(err.code)) return err.code;
    if (!err.retryable) return 'keyset_malformed';
  }
  return 'key_fetch_failed';
}

/** Whether a peer answered that it could not get our key set (§9.1 step 7): the peer is up, our side is at fault. */
export function refusesOriginKeys(code: StatusCode): boolean {
  return LASTING_KEY_FAILURES.has(code) || code === 'key_fetch_failed';
}
