// Each domain's own TLS certificate (domains.settings.<domain>.tls), chosen by SNI: a client naming
// the domain or a host under it gets that domain's certificate; any other name, or none, gets the
// listener's own. Shared by the SMTP listeners and the PMTP HTTPS listener.

import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Config } from '../config/schema.js';

/** The shape node:tls and smtp-server call; an undefined context means "the listener's own". */
export type SniCallback = (servername: string, callback: (err: Error | null, context?: SecureContext) => void) => void;

/** Reads every domain's key and certificate once; undefined when no domain has its own. */
export async function loadDomainCertificates(config: Pick<Config, 'domains'>): Promise<SniCallback | undefined> {
  const contexts = new Map<string, SecureContext>();
  for (const [domain, own] of Object.entries(config.domains.settings)) {
    if (!own.tls) continue;
    const [key, cert] = await Promise.all([readFile(own.tls.key), readFile(own.tls.cert)]);
    contexts.set(domain, createSecureContext({ key, cert, minVersion: 'TLSv1.2' }));
  }
  if (contexts.size === 0) return undefined;
  return (servername, callback) => callback(null, contextFor(contexts, servername));
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
