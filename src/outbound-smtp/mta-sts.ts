// mta-sts: RFC 8461 for MX delivery. Finds a domain's policy (TXT id through the injected
// resolver, policy file over HTTPS through the egress guard), caches it for max_age, and
// narrows a route to the MX hosts the policy names, with verified TLS, when it says `enforce`.

import type { DNSResolver, MTASTSPolicy } from 'mailauth';
import { parsePolicy, resolvePolicy, validateMx } from 'mailauth/lib/mta-sts.js';
import { MailbridgeError } from '../codes.js';
import type { MailResolver } from '../dns/resolver.js';
import { type EgressPolicy, egressFetch } from '../net/egress-fetch.js';
import type { Route } from './mx-route.js';

/** The policy file text of a domain, or false when it publishes none. Throws on trouble. */
export type PolicyFetcher = (domain: string) => Promise<string | false>;

interface CachedPolicy {
  readonly policy: MTASTSPolicy;
  readonly id: string;
  readonly expiresAt: number;
}

const none: MTASTSPolicy = { mode: 'none' };
/** RFC 8461 §3.2: a policy file larger than this is refused. */
const maxPolicyBytes = 64 * 1024;

export class MtaStsPolicies {
  private readonly cache = new Map<string, CachedPolicy>();

  constructor(
    private readonly resolver: MailResolver,
    private readonly fetcher: PolicyFetcher,
    private readonly now: () => number = Date.now,
  ) {}

  /** The policy in force for `domain`; `mode: 'none'` when there is none or it cannot be had. */
  async policyFor(domain: string): Promise<MTASTSPolicy> {
    const cached = this.cache.get(domain);
    const fresh = cached && cached.expiresAt > this.now() ? cached : undefined;
    let id: string | false;
    try {
      id = await resolvePolicy(domain, { resolver: this.dnsForMailauth() });
    } catch {
      // §5.1: a DNS failure keeps a cached policy in force
      return fresh?.policy ?? none;
    }
    if (id === false) return fresh?.policy ?? none;
    if (fresh && fresh.id === id) return fresh.policy;
    try {
      const text = await this.fetcher(domain);
      if (text === false) return fresh?.policy ?? none;
      const policy = parsePolicy(text);
      this.cache.set(domain, { policy, id, expiresAt: this.now() + (policy.maxAge ?? 0) * 1000 });
      return policy;
    } catch {
      // a failed fetch must not downgrade an unexpired policy an attacker would like gone
      return fresh?.policy ?? none;
    }
  }

  private dnsForMailauth(): DNSResolver {
    return (name, rrtype) => this.resolver.resolve(name, rrtype) as Promise<string[][]>;
  }
}

export interface PolicyDecision {
  readonly route: Route;
  /** true when the policy enforces: TLS is required and the certificate must name the MX */
  readonly verifyTls: boolean;
  /** MX hosts a `testing` policy would have refused, for the log (§5: deliver anyway) */
  readonly wouldRefuse: readonly string[];
}

/** Pure: what a policy does to an MX route. Routes we configured ourselves are left alone. */
export function applyPolicy(route: Route, policy: MTASTSPolicy): PolicyDecision {
  if (route.kind !== 'mx' || policy.mode === 'none') return { route, verifyTls: false, wouldRefuse: [] };
  const allowed = route.hops.filter((hop) => hop.mxName !== undefined && validateMx(hop.mxName, policy).valid);
  const refused = [...new Set(route.hops.filter((hop) => !allowed.includes(hop)).map((hop) => hop.mxName ?? hop.host))];
  if (policy.mode === 'testing') return { route, verifyTls: false, wouldRefuse: refused };
  if (allowed.length === 0) {
    throw new MailbridgeError(
      'mta_sts_mismatch',
      `MTA-STS policy of ${route.domain} names none of: ${refused.join(', ')}`,
    );
  }
  return { route: { ...route, hops: allowed }, verifyTls: true, wouldRefuse: [] };
}

/** §3.3: GET https://mta-sts.<domain>/.well-known/mta-sts.txt through the egress guard, no redirects, text/plain, ≤ 64 KiB. */
export function policyFetcherOverHttps(egress: EgressPolicy): PolicyFetcher {
  return async (domain) => {
    const response = await egressFetch(
      `https://mta-sts.${domain}/.well-known/mta-sts.txt`,
      { timeoutMs: 15_000, maxBodyBytes: maxPolicyBytes },
      egress,
    );
    if (response.status === 404) {
      await response.body?.cancel();
      return false;
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(`MTA-STS policy fetch for ${domain}: HTTP ${response.status}`);
    }
    if (!/^text\/plain\b/i.test(response.headers.get('content-type') ?? '')) {
      await response.body?.cancel();
      throw new Error(`MTA-STS policy for ${domain} is not text/plain`);
    }
    return Buffer.from(await response.arrayBuffer()).toString('utf8');
  };
}
