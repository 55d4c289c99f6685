// The policy SIGHUP may change while sessions stay open: per-domain recipient lists (checked at
// RCPT and for each PMTP notice) and the first-contact rules. Readers keep this one object and
// consult it per decision, so a reload takes effect at the next RCPT or notice, on open sessions too.
// A domain of domains.settings with its own first_contact or max_message_bytes is judged by those.

import type { Config } from '../config/schema.js';
import { asciiDomain } from '../mail/address-syntax.js';

export type PolicySettings = Pick<Config['domains'], 'recipients' | 'first_contact'> &
  Partial<Pick<Config['domains'], 'settings'>>;
export type FirstContactSettings = Config['domains']['first_contact'];

export class LivePolicy {
  private lists: ReadonlyMap<string, ReadonlySet<string>> = new Map();
  private rules!: FirstContactSettings;
  private domainRules: ReadonlyMap<string, FirstContactSettings> = new Map();
  private domainLimits: ReadonlyMap<string, number> = new Map();

  constructor(settings: PolicySettings) {
    this.apply(settings);
  }

  /** Replaces both slices at once (synchronously, so no decision sees half of a reload). */
  apply(settings: PolicySettings): void {
    this.lists = recipientLists(settings.recipients);
    this.rules = settings.first_contact;
    if (settings.settings) {
      this.domainRules = new Map(
        Object.entries(settings.settings).flatMap(([domain, own]) =>
          own.first_contact ? [[keyOf(domain), own.first_contact] as const] : [],
        ),
      );
      this.domainLimits = new Map(
        Object.entries(settings.settings).flatMap(([domain, own]) =>
          own.max_message_bytes === undefined ? [] : [[keyOf(domain), own.max_message_bytes] as const],
        ),
      );
    }
  }

  get firstContact(): FirstContactSettings {
    return this.rules;
  }

  /** The rules for recipients of `domain`: its own (domains.settings) or the global ones. */
  firstContactFor(domain: string): FirstContactSettings {
    return this.domainRules.get(keyOf(domain)) ?? this.rules;
  }

  /** `domain`'s own size limit (domains.settings.<d>.max_message_bytes), if it has one. */
  ownSizeLimit(domain: string): number | undefined {
    return this.domainLimits.get(keyOf(domain));
  }

  /**
   * Whether `local@domain` may receive mail here: true unless the domain has a recipient list
   * without it. Local parts compare case-insensitively; postmaster is always accepted (RFC 5321 4.5.1).
   */
  accepts(domain: string, local: string): boolean {
    const listed = this.lists.get(keyOf(domain));
    const user = local.toLowerCase();
    return listed === undefined || listed.has(user) || user === 'postmaster';
  }
}

/** domain (A-label) -> lower-case local parts; list entries may be `user` or `user@domain`. */
function recipientLists(recipients: PolicySettings['recipients']): Map<string, Set<string>> {
  const lists = new Map<string, Set<string>>();
  for (const [domain, users] of Object.entries(recipients)) {
    const locals = users.map((u) => (u.includes('@') ? u.slice(0, u.lastIndexOf('@')) : u).toLowerCase());
    lists.set(keyOf(domain), new Set(locals));
  }
  return lists;
}

function keyOf(domain: string): string {
  return asciiDomain(domain) || domain.toLowerCase();
}
