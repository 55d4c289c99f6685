// The SMTP session's log lines, at Postfix smtpd's level: connect, disconnect, each refusal with the
// client, HELO, sender and recipient (NOQUEUE: reject), and failed logins in the one form the
// fail2ban filter in deploy/fail2ban/ matches. Accepted mail is logged by the acceptance.

import type { SMTPServerAuthentication, SMTPServerSession } from 'smtp-server';
import type { Logger } from '../log.js';

export type SessionLog = ReturnType<typeof sessionLog>;

export function sessionLog(log: Logger, role: string) {
  const client = (s: SMTPServerSession) => ({ session: s.id, client: s.remoteAddress, role });
  return {
    connect(s: SMTPServerSession): void {
      log.info({ ...client(s), name: s.clientHostname }, 'connect');
    },
    disconnect(s: SMTPServerSession): void {
      log.info({ ...client(s), helo: s.hostNameAppearsAs || undefined, tls: s.secure, user: s.user }, 'disconnect');
    },
    /** a refused command: `at` says which (connect, mail, rcpt, data); the reply as the client saw it */
    reject(s: SMTPServerSession, at: string, err: Error & { responseCode?: number }, to?: string): void {
      const from = s.envelope?.mailFrom ? s.envelope.mailFrom.address : undefined;
      log.info(
        {
          ...client(s),
          at,
          helo: s.hostNameAppearsAs || undefined,
          ...(from !== undefined ? { from } : {}),
          ...(to !== undefined ? { to } : {}),
          reply: `${err.responseCode ?? 451} ${err.message}`,
        },
        'NOQUEUE: reject',
      );
    },
    /** fail2ban's filter keys on this message and the `client` field: keep both as they are */
    authFailed(s: SMTPServerSession, auth: SMTPServerAuthentication): void {
      log.warn(
        { ...client(s), helo: s.hostNameAppearsAs || undefined, user: auth.username, method: auth.method },
        'authentication failed',
      );
    },
  };
}
