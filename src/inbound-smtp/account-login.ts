// AUTH PLAIN/LOGIN on the submission listener against `smtp.accounts` (scrypt hashes).
// Refuses credentials on a cleartext session unless the listener allows it (loopback staging);
// an unknown user costs the same scrypt work as a known one, so timing reveals nothing.

import { randomUUID } from 'node:crypto';
import type { SMTPServerAuthentication, SMTPServerSession } from 'smtp-server';
import { hashPassword, verifyPassword } from '../config/password-hash.js';
import { replyError, type SmtpReplyError } from './reply-error.js';

export interface Account {
  readonly user: string;
  readonly password_hash: string;
}

export type LoginResult =
  | { readonly ok: true; readonly user: string }
  | { readonly ok: false; readonly error: SmtpReplyError };

export class AccountLogin {
  private readonly accounts: ReadonlyMap<string, Account>;
  private decoy: Promise<string> | undefined;

  constructor(
    accounts: readonly Account[],
    private readonly allowCleartext: boolean,
  ) {
    this.accounts = new Map(accounts.map((a) => [a.user.toLowerCase(), a]));
  }

  async login(auth: SMTPServerAuthentication, session: SMTPServerSession): Promise<LoginResult> {
    if (!session.secure && !this.allowCleartext) return { ok: false, error: replyError('tls_required') };
    if (auth.method !== 'PLAIN' && auth.method !== 'LOGIN') return { ok: false, error: replyError('auth_failed') };
    const name = auth.username ?? '';
    // no acting on behalf of another identity (RFC 4616 authzid)
    if (auth.authzid && auth.authzid !== name) return { ok: false, error: replyError('auth_failed') };
    const account = this.accounts.get(name.toLowerCase());
    const hash = account?.password_hash ?? (await this.decoyHash(this.accounts.values().next().value?.password_hash));
    const ok = await verifyPassword(auth.password ?? '', hash);
    if (!account || !ok) return { ok: false, error: replyError('auth_failed') };
    return { ok: true, user: account.user };
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
