// live-settings: the parts SIGHUP can change in place. TLS certificates are re-read and checked
// before they replace a server's context, so new handshakes get the new certificate while open
// sessions keep theirs; plus the log level and any policy a part exposes a setter for.

import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Reloadable } from './reload.js';

export interface TlsMaterial {
  readonly key: Buffer;
  readonly cert: Buffer;
}

/** Where a key/cert pair goes: smtp-server's `updateSecureContext`, a tls/https server's `setSecureContext`. */
export type TlsInstaller = (material: TlsMaterial) => void;

export function smtpServerInstaller(server: { updateSecureContext(options: TlsMaterial): void }): TlsInstaller {
  return (material) => server.updateSecureContext(material);
}

/** For node's tls.Server and https.Server, e.g. a fastify app's `app.server` when served over TLS. */
export function tlsServerInstaller(server: { setSecureContext(options: TlsMaterial): void }): TlsInstaller {
  return (material) => server.setSecureContext(material);
}

/** Re-reads the files `select` names in the new config and installs them, if they make a valid pair. */
export function tlsReloadable(
  name: string,
  key: string,
  select: (config: Config) => { key: string; cert: string } | undefined,
  install: TlsInstaller,
): Reloadable {
  return {
    name,
    keys: [key],
    async apply(next) {
      const files = select(next);
      if (!files) throw new Error(`${key} is gone; serving without TLS needs a restart`);
      const material = { key: await readFile(files.key), cert: await readFile(files.cert) };
      // throws on a bad PEM or a key that does not match the certificate, before anything changes
      createSecureContext(material);
      install(material);
    },
  };
}

/** TLS of the i-th SMTP listener (smtp.listeners[i].tls). */
export function smtpListenerTls(index: number, install: TlsInstaller): Reloadable {
  return tlsReloadable(
    `smtp listener ${index} tls`,
    `smtp.listeners.${index}.tls`,
    (c) => c.smtp.listeners[index]?.tls,
    install,
  );
}

/** TLS of the PMTP endpoint (pmtp.listen.tls). */
export function pmtpTls(install: TlsInstaller): Reloadable {
  return tlsReloadable('pmtp tls', 'pmtp.listen.tls', (c) => c.pmtp.listen.tls, install);
}

export function logLevelReloadable(log: Logger): Reloadable {
  return {
    name: 'log level',
    keys: ['log.level'],
    apply(next) {
      log.level = next.log.level;
    },
  };
}

/** A config slice handed to a part's setter when it changed, e.g. the policy (recipient lists, first-contact rules). */
export function settingReloadable<T>(
  name: string,
  keys: readonly string[],
  pick: (config: Config) => T,
  set: (value: T) => void,
): Reloadable {
  return {
    name,
    keys,
    apply(next, previous) {
      const value = pick(next);
      if (JSON.stringify(value) !== JSON.stringify(pick(previous))) set(value);
    },
  };
}

/**
 * Whether `key` is `domains.settings.<domain>.<field>…` for one of `fields`, `domain` being a domain
 * of either config (domain names hold dots, so a key alone cannot tell where the name ends).
 */
export function domainSettingsKey(fields: readonly string[]) {
  return (key: string, ...configs: readonly Config[]): boolean =>
    configs.some((config) =>
      Object.keys(config.domains.settings).some((domain) =>
        fields.some((field) => {
          const at = `domains.settings.${domain}.${field}`;
          return key === at || key.startsWith(`${at}.`);
        }),
      ),
    );
}
