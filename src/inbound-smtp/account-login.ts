// AUTH PLAIN/LOGIN on the submission listener: a name in `smtp.accounts` is checked against its
// hash; any other goes to Dovecot's auth service when `smtp.dovecot_auth` is set (454 4.7.0 when
// it cannot answer). Without Dovecot, an unknown user costs the same hash work as a known one.
// Credentials on a cleartext session are refused unless the listener allows it (loopback staging).

import { randomUUID } from 'node:crypto';
import type { SMTPServerAuthentication, SMTPServerSession } from 'smtp-server';
import { hashPassword, verifyPassword } from '../config/password-hash.js';
import type { Logger } from '../log.js';
import type { LiveAccounts } from '../policy/live-accounts.js';
import { dovecotLogin } from './dovecot-sasl.js';
import { replyError, type SmtpReplyError } from './reply-error.js';

export type LoginResult =
  | { readonly ok: true; readonly user: string }
  | { readonly ok: false; readonly error: SmtpReplyError };

export class AccountLogin {
  private decoy: Promise<string> | undefined;

  constructor(
    private readonly accounts: Pick<LiveAccounts, 'account' | 'anyHash' | 'dovecotAuth'>,
    private readonly allowCleartext: boolean,
    private readonly log: Pick<Logger, 'warn'>,
  ) {}

  async login(auth: SMTPServerAuthentication, session: SMTPServerSession): Promise<LoginResult> {
    if (!session.secure && !this.allowCleartext) return { ok: false, error: replyError('tls_required') };
    if (auth.method !== 'PLAIN' && auth.method !== 'LOGIN') return { ok: false, error: replyError('auth_failed') };
    const name = auth.username ?? '';
    // no acting on behalf of another identity (RFC 4616 authzid)
    if (auth.authzid && auth.authzid !== name) return { ok: false, error: replyError('auth_failed') };
    const account = this.accounts.account(name);
    const dovecot = this.accounts.dovecotAuth;
    if (!account && dovecot) return this.dovecotLogin(name, auth.password ?? '', session, dovecot);
    const hash = account?.password_hash ?? (await this.decoyHash(this.accounts.anyHash()));
    const ok = await verifyPassword(auth.password ?? '', hash);
    if (!account || !ok) return { ok: false, error: replyError('auth_failed') };
    return { ok: true, user: account.user };
  }

  private async dovecotLogin(
    user: string,
    password: string,
    session: SMTPServerSession,
    dovecot: NonNullable<LiveAccounts['dovecotAuth']>,
  ): Promise<LoginResult> {
    const answer = await dovecotLogin(
      { user, password, localIp: session.localAddress, remoteIp: session.remoteAddress, secured: session.secure },
      dovecot.socket,
      dovecot.timeout_s * 1000,
    );
    if (answer.kind === 'ok') return { ok: true, user: answer.user };
    if (answer.kind === 'fail') return { ok: false, error: replyError('auth_failed') };
    this.log.warn({ session: session.id, reason: answer.reason }, 'dovecot auth service did not answer');
    return { ok: false, error: replyError('auth_service_unavailable') };
  }

  /** A hash with a real account's parameters, made once, never matching any password given. */
  private decoyHash(like: string | undefined): Promise<string> {
    if (!this.decoy) {
      const [, N, r, p] = (like ?? 'scrypt$32768$8$1').split('$').map(Number);
      this.decoy = hashPassword(`decoy-${randomUUID()}`, { N: N || 32768, r: r || 8, p: p || 1 });
    }
    return this.decoy;
  }
}
