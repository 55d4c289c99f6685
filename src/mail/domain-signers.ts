// One DKIM signer per domain this gateway sends for (top-level `dkim` plus domains.settings.<d>.dkim),
// chosen by the author's domain: its own key, else the key of a parent domain (DMARC relaxed
// alignment). A message whose From: no key aligns with is sent unsigned: never with a stranger's d=.

import type { Config } from '../config/schema.js';
import { type DkimSigner, loadDkimSigner } from './dkim-signer.js';

export interface DomainSigners {
  /** the signing domains, default (top-level `dkim`) first */
  readonly domains: readonly string[];
  /** The signer aligned with every author domain, or undefined when there is none (or no author). */
  signerFor(authorDomains: readonly string[]): DkimSigner | undefined;
}

/** nodemailer's own default, used when only per-domain keys are configured */
const defaultCacheThreshold = 1_048_576;

/** Reads every key once; undefined when no domain has one. `cacheDir` as loadDkimSigner's. */
export async function loadDomainSigners(
  config: Pick<Config, 'dkim' | 'domains'>,
  cacheDir: string,
): Promise<DomainSigners | undefined> {
  const threshold = config.dkim?.cache_threshold_bytes ?? defaultCacheThreshold;
  const keys = [
    ...(config.dkim ? [config.dkim] : []),
    ...Object.entries(config.domains.settings).flatMap(([domain, own]) =>
      own.dkim ? [{ domain, ...own.dkim, cache_threshold_bytes: threshold }] : [],
    ),
  ];
  if (keys.length === 0) return undefined;
  const signers = new Map<string, DkimSigner>();
  // the folder is emptied by each load: fine, nothing signs until all are loaded
  for (const key of keys) signers.set(key.domain, await loadDkimSigner(key, cacheDir));
  return { domains: [...signers.keys()], signerFor: (authors) => alignedSigner(signers, authors) };
}

/** The one signer every author domain aligns with: exact first, then the nearest parent domain. */
export function alignedSigner<S>(signers: ReadonlyMap<string, S>, authorDomains: readonly string[]): S | undefined {
  const chosen = new Set(authorDomains.map((d) => nearestKeyDomain(signers, d.toLowerCase())));
  if (chosen.size !== 1) return undefined;
  const [domain] = chosen;
  return domain === undefined ? undefined : signers.get(domain);
}

function nearestKeyDomain(signers: ReadonlyMap<string, unknown>, domain: string): string | undefined {
  const labels = domain.replace(/\.$/, '').split('.');
  // stop above the last label: a key for "org" would align nothing real
  for (let i = 0; i < labels.length - 1; i++) {
    const candidate = labels.slice(i).join('.');
    if (signers.has(candidate)) return candidate;
  }
  return undefined;
}
