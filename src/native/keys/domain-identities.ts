// Every PMTP identity this gateway answers for: pmtp.domain (the default) and each domain of
// domains.settings with its own `pmtp` key. Each ring is loaded by local-keys.ts's own loader, one
// call per domain, so key handling stays there; this file only says which domain has which ring.
import type { Config } from '../../config/schema.js';
import { type LocalKeyRing, loadKeyRing } from './local-keys.js';

export interface DomainIdentity {
  readonly keys: LocalKeyRing;
  /** the https origin `_pmtp.<domain>` publishes; unset: pmtp.public_url, else the bound URL */
  readonly publicUrl: string | undefined;
}

/** domain -> identity, the default domain first (Map order). */
export type DomainIdentities = ReadonlyMap<string, DomainIdentity>;

export async function loadDomainIdentities(
  config: Pick<Config, 'domains' | 'pmtp'>,
  primary: LocalKeyRing,
): Promise<DomainIdentities> {
  const identities = new Map<string, DomainIdentity>([
    [primary.domain, { keys: primary, publicUrl: config.pmtp.public_url }],
  ]);
  for (const [domain, own] of Object.entries(config.domains.settings)) {
    if (!own.pmtp || identities.has(domain)) continue;
    // an added domain starts without retired keys: pmtp.retired_keys belong to the default domain
    const keys = await loadKeyRing({ pmtp: { ...config.pmtp, domain, key_file: own.pmtp.key_file, retired_keys: [] } });
    identities.set(domain, { keys, publicUrl: own.pmtp.public_url ?? config.pmtp.public_url });
  }
  return identities;
}
