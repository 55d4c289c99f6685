// Each domain's own TLS certificate (domains.settings.<domain>.tls), chosen by SNI: a client naming
// the domain or a host under it gets that domain's certificate; any other name, or none, gets the
// listener's own. Shared by the SMTP listeners and the PMTP HTTPS listener.

import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Config } from '../config/schema.js';

/** The shape node:tls and smtp-server call; an undefined context means "the listener's own". */
export type SniCallback = (servername: string, callback: (err: Error | null, context?: SecureContext) => void) => void;

/**
 * Every domain's key and certificate, re-read on SIGHUP (`reload`): new handshakes get the new
 * ones, open sessions keep theirs. Its `sni` callback is installed on every TLS listener even when
 * no domain has its own certificate yet, so a domain added by a reload needs no restart.
 */
export class DomainCertificates {
  private contexts: ReadonlyMap<string, SecureContext> = new Map();

  static async load(config: Pick<Config, 'domains'>): Promise<DomainCertificates> {
    const certificates = new DomainCertificates();
    await certificates.reload(config);
    return certificates;
  }

  /** All files are read and checked before any context is replaced: a bad pair keeps the old set. */
  async reload(config: Pick<Config, 'domains'>): Promise<void> {
    const contexts = new Map<string, SecureContext>();
    for (const [domain, own] of Object.entries(config.domains.settings)) {
      if (!own.tls) continue;
      const [key, cert] = await Promise.all([readFile(own.tls.key), readFile(own.tls.cert)]);
      contexts.set(domain, createSecureContext({ key, cert, minVersion: 'TLSv1.2' }));
    }
    this.contexts = contexts;
  }

  readonly sni: SniCallback = (servername, callback) => callback(null, contextFor(this.contexts, servername));
}

/** The entry for the name itself, else for its nearest parent (mail.example.org → example.org). */
export function contextFor<T>(contexts: ReadonlyMap<string, T>, servername: string): T | undefined {
  const labels = servername.toLowerCase().replace(/\.$/, '').split('.');
  for (let i = 0; i < labels.length - 1; i++) {
    const found = contexts.get(labels.slice(i).join('.'));
    if (found !== undefined) return found;
  }
  return undefined;
}
