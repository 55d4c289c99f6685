// Which senders a submission login may use, like Postfix's smtpd_sender_login_maps with
// reject_sender_login_mismatch: the account's own address (when its user name is one) plus the
// grants in its `senders` list. Pure; the listener and dispatch both ask it.

import { asciiDomain } from './address-syntax.js';

export interface SenderAccount {
  readonly user: string;
  /** `local@domain`, `@domain` (the whole domain), `<>` (the null sender) or `*` (any sender) */
  readonly senders?: readonly string[];
}

interface Grants {
  /** `local@domain`: local part as written, domain in ASCII lower case */
  readonly addresses: ReadonlySet<string>;
  readonly domains: ReadonlySet<string>;
  readonly nullSender: boolean;
  readonly any: boolean;
}

export class SenderGrants {
  private readonly byLogin: ReadonlyMap<string, Grants>;

  constructor(accounts: readonly SenderAccount[]) {
    this.byLogin = new Map(accounts.map((a) => [a.user.toLowerCase(), grantsOf(a)]));
  }

  /** True when `login` may use `sender` ('' is the null sender) as MAIL FROM. */
  allows(login: string, sender: string): boolean {
    if (this.allowsAny(login)) return true;
    if (sender === '') return this.byLogin.get(login.toLowerCase())?.nullSender ?? false;
    return this.binds(login, sender);
  }

  /** True when `login` may use `address` in From: or Sender:, where there is no null sender. */
  allowsInHeader(login: string, address: string): boolean {
    return this.allowsAny(login) || this.binds(login, address);
  }

  /** The `*` grant. */
  allowsAny(login: string): boolean {
    return this.byLogin.get(login.toLowerCase())?.any ?? false;
  }

  /**
   * True when `sender` belongs to `login` itself: its own address, a listed address or a listed
   * domain. A `*` grant does not bind: such a login may write as anyone, so mail it sends must not
   * act on another user's behalf (sign-back into their mailbox, their contact allowlist).
   */
  binds(login: string, sender: string): boolean {
    const grants = this.byLogin.get(login.toLowerCase());
    const address = normalised(sender);
    if (!grants || !address) return false;
    return grants.addresses.has(address.key) || grants.domains.has(address.domain);
  }
}

function grantsOf(account: SenderAccount): Grants {
  const addresses = new Set<string>();
  const domains = new Set<string>();
  const own = normalised(account.user);
  if (own) addresses.add(own.key);
  let nullSender = false;
  let any = false;
  for (const entry of account.senders ?? []) {
    if (entry === '*') any = true;
    else if (entry === '<>') nullSender = true;
    else if (entry.startsWith('@')) {
      const domain = asciiDomain(entry.slice(1));
      if (domain) domains.add(domain);
    } else {
      const address = normalised(entry);
      if (address) addresses.add(address.key);
    }
  }
  return { addresses, domains, nullSender, any };
}

/** The local part stays exact (RFC 5321 2.4); the domain is compared in ASCII lower case. */
function normalised(address: string): { key: string; domain: string } | undefined {
  const at = address.lastIndexOf('@');
  if (at <= 0) return undefined;
  const domain = asciiDomain(address.slice(at + 1));
  return domain ? { key: `${address.slice(0, at)}@${domain}`, domain } : undefined;
}
