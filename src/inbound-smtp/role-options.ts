// smtp-server options for one listener, by role. Security-relevant defaults are set here, in one
// place: no reverse DNS, AUTH only on submission, XFORWARD only on relay-in, no XCLIENT or
// sendmail toys, SIZE advertised (and enforced in data-intake), DSN advertised (RFC 3461),
// STARTTLS only with our own cert, or a domain's own (domains.settings.<d>.tls) when the client names it (SNI).

import { readFile } from 'node:fs/promises';
import type { SMTPServerOptions } from 'smtp-server';
import { smtpReply } from '../codes.js';
import type { Config, ListenerConfig } from '../config/schema.js';
import type { SenderAuthMode } from '../mail/spool-records.js';
import { DomainCertificates } from '../net/domain-certificates.js';

export type ListenerHandlers = Pick<
  SMTPServerOptions,
  'onConnect' | 'onAuth' | 'onMailFrom' | 'onRcptTo' | 'onData' | 'onClose'
>;

/** How long close() lets sessions in DATA finish before cutting them off. */
export const closeGraceMs = 30_000;

export async function roleOptions(
  listener: ListenerConfig,
  config: Pick<Config, 'domains' | 'hostname' | 'limits'>,
  handlers: ListenerHandlers,
  certificates?: DomainCertificates,
): Promise<SMTPServerOptions> {
  const tls = listener.tls
    ? {
        key: await readFile(listener.tls.key),
        cert: await readFile(listener.tls.cert),
        SNICallback: (certificates ?? (await DomainCertificates.load(config))).sni,
      }
    : undefined;
  if (listener.role === 'submission' && !tls && !listener.allow_insecure_auth) {
    throw new Error(
      `submission listener on ${listener.host}:${listener.port} needs tls (or allow_insecure_auth on loopback): AUTH would never be possible`,
    );
  }
  const disabled = ['XCLIENT', 'WIZ', 'SHELL', 'KILL'];
  if (listener.role !== 'submission') disabled.push('AUTH');
  const implicit = listener.tls_mode === 'implicit';
  if (!tls || implicit) disabled.push('STARTTLS');
  return {
    ...tls,
    name: config.hostname,
    logger: false,
    disableReverseLookup: true,
    disabledCommands: disabled,
    authMethods: ['PLAIN', 'LOGIN'],
    authRequiredMessage: smtpReply('auth_required').message,
    allowInsecureAuth: listener.allow_insecure_auth,
    // relay-in admits only relay_clients at connect, so on that role XFORWARD is theirs alone
    useXForward: listener.role === 'relay-in',
    useXClient: false,
    // the PROXY header is read in front (proxy-front.ts) and reaches smtp-server as one v1 line
    useProxy: listener.proxy_protocol,
    secure: implicit,
    size: config.limits.message_size_bytes,
    maxClients: listener.max_clients,
    socketTimeout: listener.socket_timeout_s * 1000,
    closeTimeout: closeGraceMs,
    // RFC 3461: NOTIFY, ORCPT, RET and ENVID are checked in dsn-parameters.ts and kept in the record
    hideDSN: false,
    hideREQUIRETLS: true,
    lenientAddressParsing: false,
    ...handlers,
  };
}

/** Unset `sender_auth`: judge strangers (mx, relay-in); a logged-in submission client is judged by its login. */
export function senderAuthMode(listener: ListenerConfig): SenderAuthMode {
  return listener.sender_auth ?? (listener.role === 'submission' ? 'skip' : 'enforce');
}
