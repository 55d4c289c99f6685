// Every PMTP identity this gateway answers for: pmtp.domain (the default) and each domain of
// domains.settings with its own `pmtp` key. Each has its own ring file (`keys rotate --domain D`),
// loaded by local-keys.ts, one call per domain; this file only says which domain has which ring.
import type { Config } from '../../config/schema.js';
import { type LocalKeyRing, loadDomainKeyRing, ringConfigOf } from './local-keys.js';

export interface DomainIdentity {
  readonly keys: LocalKeyRing;
  /** the https origin `_pmtp.<domain>` publishes; unset: pmtp.public_url, else the bound URL */
  readonly publicUrl: string | undefined;
}

/** domain -> identity, the default domain first (Map order). */
export type DomainIdentities = ReadonlyMap<string, DomainIdentity>;

export async function loadDomainIdentities(
  config: Pick<Config, 'domains' | 'pmtp' | 'spool'>,
  primary: LocalKeyRing,
  nowS: () => number,
): Promise<DomainIdentities> {
  const identities = new Map<string, DomainIdentity>([
    [primary.domain, { keys: primary, publicUrl: config.pmtp.public_url }],
  ]);
  for (const [domain, own] of Object.entries(config.domains.settings)) {
    if (!own.pmtp || identities.has(domain)) continue;
    const { paths, timing } = ringConfigOf(config, domain);
    const keys = await loadDomainKeyRing(domain, paths, { ...timing, nowS });
    identities.set(domain, { keys, publicUrl: own.pmtp.public_url ?? config.pmtp.public_url });
  }
  return identities;
}
