// The one entry point for the composition root: opens every configured SMTP listener
// (mx, submission, relay-in) and closes them together. Listeners reach the queue only
// through the MessageAcceptor they are given; they never touch BullMQ.

import type { Config } from '../config/schema.js';
import { DomainCertificates } from '../net/domain-certificates.js';
import { type AccountSettings, LiveAccounts } from '../policy/live-accounts.js';
import { LivePolicy } from '../policy/live-policy.js';
import { loadArcSealer } from './arc-seal.js';
import { clientList } from './client-access.js';
import { routingTable } from './recipient-routing.js';
import { RecipientVerification, type VerifySettings } from './recipient-verification.js';
import { loadSignBack } from './sign-back.js';
import { type ListenerAddress, SmtpListener, type SmtpListenerDeps } from './smtp-listener.js';

export type { ListenerAddress, SmtpListenerDeps } from './smtp-listener.js';

export interface SmtpListeners {
  readonly addresses: readonly ListenerAddress[];
  /** Stops accepting, answers idle sessions 421, lets sessions in DATA finish. */
  close(): Promise<void>;
  /** Installs a renewed certificate on the listener at `index` of `smtp.listeners` (SIGHUP). */
  updateSecureContext(index: number, material: { key: Buffer; cert: Buffer }): void;
  /** New `domains.verify` sources for the next RCPT (SIGHUP). */
  applyVerification(settings: VerifySettings): void;
  /** New `smtp.accounts` and `smtp.dovecot_auth` for the next AUTH and sender check (SIGHUP). */
  applyAccounts(settings: AccountSettings): void;
}

/**
 * `policy` and `certificates` are shared with the PMTP service so one SIGHUP changes both (private
 * ones otherwise).
 */
export async function startSmtpListeners(
  config: Config,
  deps: SmtpListenerDeps,
  policy = new LivePolicy(config.domains),
  certificates?: DomainCertificates,
): Promise<SmtpListeners> {
  const shared = {
    table: routingTable(config, policy),
    policy,
    certificates: certificates ?? (await DomainCertificates.load(config)),
    relayClients: clientList(config.smtp.relay_clients),
    limitExceptions: clientList(
      config.smtp.limit_exceptions ?? config.smtp.relay_clients,
      config.smtp.limit_exceptions ? 'smtp.limit_exceptions' : 'smtp.relay_clients',
    ),
    verification: new RecipientVerification(config.domains, config.hostname),
    accounts: new LiveAccounts(config.smtp),
    sealer: config.arc ? await loadArcSealer(config.arc) : undefined,
    // only submission clients can ask for sign-back
    signBack: config.smtp.listeners.some((l) => l.role === 'submission')
      ? await loadSignBack(config, deps.spool)
      : undefined,
  };
  const started: SmtpListener[] = [];
  const addresses: ListenerAddress[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(started.map((l) => l.close()));
  };
  try {
    for (const listener of config.smtp.listeners) {
      const smtp = new SmtpListener(listener, config, deps, shared);
      started.push(smtp);
      addresses.push(await smtp.listen());
    }
  } catch (err) {
    await close();
    throw err;
  }
  return {
    addresses,
    close,
    updateSecureContext: (index, material) => started[index]?.updateSecureContext(material),
    applyVerification: (settings) => shared.verification.apply(settings),
    applyAccounts: (settings) => shared.accounts.apply(settings),
  };
}
