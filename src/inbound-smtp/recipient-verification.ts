// Whether a recipient of one of our domains exists, asked at RCPT of the source `domains.verify`
// names for its domain: a probe of the downstream Postfix/LMTP server or Dovecot's userdb. Both
// answers are cached (separate TTLs, bounded LRU per domain); "could not tell" is never cached.

import type { Config } from '../config/schema.js';
import { asciiDomain } from '../mail/address-syntax.js';
import { LruMap } from '../net/lru-map.js';
import { dovecotUserExists, type LookupAnswer } from './dovecot-userdb.js';
import { probeRecipient } from './recipient-probe.js';

export type VerifySettings = Pick<Config['domains'], 'verify' | 'postfix'>;
type DomainSource = Exclude<Config['domains']['verify'][string], { source: 'any' }>;

export type { LookupAnswer };

/** Asks one source about one address; the verifier caches around it. */
export type Lookup = (address: string, local: string) => Promise<LookupAnswer>;

interface CachedAnswer {
  readonly answer: Exclude<LookupAnswer, 'unavailable'>;
  readonly until: number;
}

interface DomainVerifier {
  readonly lookup: Lookup;
  readonly positiveMs: number;
  readonly negativeMs: number;
  readonly cache: LruMap<string, CachedAnswer>;
  /** one lookup per address at a time: a burst of RCPTs for it waits on the same answer */
  readonly pending: Map<string, Promise<LookupAnswer>>;
}

export class RecipientVerification {
  private domains: ReadonlyMap<string, DomainVerifier> = new Map();

  constructor(
    settings: VerifySettings,
    private readonly hostname: string,
    private readonly now: () => number = Date.now,
  ) {
    this.apply(settings);
  }

  /** New sources for the next RCPT (SIGHUP); the caches start empty, since a source may have changed. */
  apply(settings: VerifySettings): void {
    const domains = new Map<string, DomainVerifier>();
    for (const [domain, source] of Object.entries(settings.verify)) {
      if (source.source === 'any') continue;
      const lookup = this.lookupFor(domain, source, settings);
      if (!lookup) continue;
      domains.set(asciiDomain(domain) || domain, {
        lookup,
        positiveMs: source.positive_ttl_s * 1000,
        negativeMs: source.negative_ttl_s * 1000,
        cache: new LruMap(source.cache_entries),
        pending: new Map(),
      });
    }
    this.domains = domains;
  }

  /** 'exists' also for a domain with no source here: this check then has nothing to say. */
  async check(address: { address: string; local: string; domain: string }): Promise<LookupAnswer> {
    const verifier = this.domains.get(address.domain);
    if (!verifier) return 'exists';
    const key = address.address.toLowerCase();
    const cached = verifier.cache.get(key);
    if (cached && cached.until > this.now()) return cached.answer;
    const running = verifier.pending.get(key);
    if (running) return running;
    const asked = verifier.lookup(address.address, address.local).then((answer) => {
      if (answer !== 'unavailable') {
        const ttl = answer === 'exists' ? verifier.positiveMs : verifier.negativeMs;
        verifier.cache.set(key, { answer, until: this.now() + ttl });
      }
      return answer;
    });
    verifier.pending.set(key, asked);
    try {
      return await asked;
    } finally {
      verifier.pending.delete(key);
    }
  }

  private lookupFor(domain: string, source: DomainSource, settings: VerifySettings): Lookup | undefined {
    const timeoutMs = source.timeout_s * 1000;
    if (source.source === 'dovecot') {
      return (address, local) =>
        dovecotUserExists(source.username === 'local' ? local : address, { socket: source.socket, timeoutMs });
    }
    // the schema requires host for a domain without a domains.postfix hop
    const hop = settings.postfix[domain];
    const host = source.host ?? hop?.host;
    if (!host) return undefined;
    const target = {
      host,
      port: source.port ?? hop?.port ?? 25,
      protocol: source.protocol ?? hop?.protocol ?? 'smtp',
      hostname: this.hostname,
      timeoutMs,
    };
    return (address) => probeRecipient(address, target);
  }
}
