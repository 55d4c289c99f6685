// Checks a submission login with Dovecot's auth service, the way Postfix's smtpd_sasl_type=dovecot
// does: the auth-client protocol (VERSION, CPID, wait for DONE, then AUTH PLAIN with the
// credentials). OK is a login, FAIL a refusal; FAIL with `temp`, no answer or a broken line is 454.

import { DovecotConnection, fitsField } from './dovecot-connection.js';

export type SaslAnswer =
  | { readonly kind: 'ok'; readonly user: string }
  | { readonly kind: 'fail' }
  | { readonly kind: 'unavailable'; readonly reason: string };

export interface SaslRequest {
  readonly user: string;
  readonly password: string;
  /** our address and the client's, which Dovecot logs and its policies may use */
  readonly localIp?: string;
  readonly remoteIp?: string;
  /** TLS protects the session (Dovecot refuses plaintext mechanisms otherwise, unless told not to) */
  readonly secured: boolean;
}

export async function dovecotLogin(request: SaslRequest, where: string, timeoutMs: number): Promise<SaslAnswer> {
  // a NUL or a line break in a name or password cannot be sent faithfully; no account has one
  if (!fitsField(request.user) || request.password.includes('\0') || request.user === '') return { kind: 'fail' };
  let connection: DovecotConnection | undefined;
  try {
    connection = await DovecotConnection.open(where, timeoutMs);
    connection.send('VERSION', '1', '2');
    connection.send('CPID', String(process.pid));
    let plain = false;
    for (;;) {
      const [verb, major, ...rest] = await connection.read();
      if (verb === 'VERSION' && major !== '1') return { kind: 'unavailable', reason: `protocol version ${major}` };
      if (verb === 'MECH' && major?.toUpperCase() === 'PLAIN') plain = !rest.includes('private');
      if (verb === 'DONE') break;
    }
    if (!plain) return { kind: 'unavailable', reason: 'dovecot offers no PLAIN mechanism (auth_mechanisms)' };
    // RFC 4616: authzid NUL authcid NUL password, with no authzid
    const response = Buffer.from(`\0${request.user}\0${request.password}`, 'utf8').toString('base64');
    const fields = ['AUTH', '1', 'PLAIN', 'service=smtp', 'nologin'];
    if (request.localIp && fitsField(request.localIp)) fields.push(`lip=${request.localIp}`);
    if (request.remoteIp && fitsField(request.remoteIp)) fields.push(`rip=${request.remoteIp}`);
    if (request.secured) fields.push('secured');
    connection.send(...fields, `resp=${response}`);
    for (;;) {
      const [verb, id, ...params] = await connection.read();
      if (id !== '1') continue;
      if (verb === 'OK') {
        const user = params.find((p) => p.startsWith('user='))?.slice('user='.length);
        return { kind: 'ok', user: user || request.user };
      }
      if (verb === 'FAIL') {
        return params.includes('temp') ? { kind: 'unavailable', reason: 'temporary failure' } : { kind: 'fail' };
      }
      // CONT would ask for another round, which PLAIN with an initial response never needs
      return { kind: 'unavailable', reason: `unexpected ${verb}` };
    }
  } catch (err) {
    return { kind: 'unavailable', reason: err instanceof Error ? err.message : String(err) };
  } finally {
    connection?.close();
  }
}
