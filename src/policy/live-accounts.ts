// The submission logins SIGHUP may change while sessions stay open: the static `smtp.accounts`
// (hash and sender grants of each) and whether Dovecot's auth service checks the other names.
// Readers keep this one object; a reload takes effect at the next AUTH, MAIL FROM or header check.

import type { Config } from '../config/schema.js';
import { SenderGrants } from '../mail/sender-grants.js';

export type AccountSettings = Pick<Config['smtp'], 'accounts' | 'dovecot_auth'>;
export type StaticAccount = Config['smtp']['accounts'][number];
export type DovecotAuthSettings = NonNullable<Config['smtp']['dovecot_auth']>;

/** What the listener asks about senders (mail/sender-grants.ts), answered from the live accounts. */
export type SenderPolicy = Pick<SenderGrants, 'allows' | 'allowsInHeader' | 'allowsAny' | 'binds'>;

export class LiveAccounts implements SenderPolicy {
  private byName: ReadonlyMap<string, StaticAccount> = new Map();
  private grants = new SenderGrants([]);
  private dovecot: DovecotAuthSettings | undefined;

  constructor(settings: AccountSettings) {
    this.apply(settings);
  }

  /** Replaces accounts, grants and the Dovecot setting at once (synchronously). */
  apply(settings: AccountSettings): void {
    this.byName = new Map(settings.accounts.map((a) => [a.user.toLowerCase(), a]));
    this.grants = new SenderGrants(settings.accounts);
    this.dovecot = settings.dovecot_auth;
  }

  account(name: string): StaticAccount | undefined {
    return this.byName.get(name.toLowerCase());
  }

  /** A hash of some static account, so a decoy check costs what a real one does. */
  anyHash(): string | undefined {
    return this.byName.values().next().value?.password_hash;
  }

  get dovecotAuth(): DovecotAuthSettings | undefined {
    return this.dovecot;
  }

  allows(login: string, sender: string): boolean {
    return this.grantsOf(login).allows(login, sender);
  }

  allowsInHeader(login: string, address: string): boolean {
    return this.grantsOf(login).allowsInHeader(login, address);
  }

  allowsAny(login: string): boolean {
    return this.grantsOf(login).allowsAny(login);
  }

  binds(login: string, sender: string): boolean {
    return this.grantsOf(login).binds(login, sender);
  }

  /**
   * A login outside the static list was checked by Dovecot (no other way in): it owns its own
   * address and nothing more. Without Dovecot such a name has no grants at all.
   */
  private grantsOf(login: string): SenderGrants {
    if (this.byName.has(login.toLowerCase()) || !this.dovecot || login === '') return this.grants;
    return new SenderGrants([{ user: login }]);
  }
}
