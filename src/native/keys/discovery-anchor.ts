// The trust anchor of discovery (§8.6): https://<domain>/.well-known/pmtp/endpoint, fetched under the
// Web PKI through the egress guard, says which endpoint and which key-set signing keys the domain
// stands behind. It confirms (or contradicts) what the unauthenticated `_pmtp` TXT record says.
import { z } from 'zod';
import { type EgressPolicy, egressFetch } from '../../net/egress-fetch.js';
import { LruMap } from '../../net/lru-map.js';
import { PATHS } from '../protocol/endpoints.js';
import { describeIssue } from '../protocol/protocol-error.js';
import { domain as domainField, keyId } from '../protocol/protocol-fields.js';

/** The anchor document; unknown members are ignored (§19). */
export const anchorDocumentSchema = z.object({
  v: z.literal(1),
  domain: domainField,
  endpoint: z.string().url(),
  key_ids: z.array(keyId).min(1).max(20),
});

export type AnchorAnswer =
  /** the domain publishes an anchor and it names these key-set signing keys for the endpoint asked about */
  | { readonly kind: 'confirmed'; readonly keyIds: readonly string[] }
  /** no anchor could be had (none published, unreachable, no valid certificate) */
  | { readonly kind: 'absent'; readonly detail: string }
  /** an anchor is published and disagrees with DNS, or cannot be read */
  | { readonly kind: 'mismatch'; readonly detail: string };

export interface DiscoveryAnchorDeps {
  readonly egress: EgressPolicy;
  readonly nowS: () => number;
  readonly timeoutMs: number;
  /** the anchor URL of a domain; tests point it at a loopback port */
  readonly urlFor?: (domain: string) => string;
}

const ANCHOR_MAX_BYTES = 16 * 1024;
/** how long an answer is reused; a missing anchor is asked again sooner, so publishing one takes effect */
const ANSWER_TTL_S = 3600;
const ABSENT_TTL_S = 300;
const CACHE_ENTRIES = 10_000;

export function anchorUrl(domain: string): string {
  return `https://${domain}${PATHS.anchor}`;
}

export class DiscoveryAnchor {
  private readonly answers = new LruMap<string, { doc: AnchorFetch; until: number }>(CACHE_ENTRIES);

  constructor(private readonly deps: DiscoveryAnchorDeps) {}

  /** Whether the anchor of `domain` confirms `endpoint` and the pinned key `fingerprint` (if any). */
  async check(domain: string, endpoint: string, fingerprint?: string): Promise<AnchorAnswer> {
    const fetched = await this.document(domain);
    if (fetched.kind !== 'found') return fetched;
    const doc = fetched.doc;
    if (doc.domain !== domain) return { kind: 'mismatch', detail: `anchor of ${domain} names ${doc.domain}` };
    if (new URL(doc.endpoint).origin !== endpoint)
      return { kind: 'mismatch', detail: `anchor of ${domain} names endpoint ${doc.endpoint}, DNS ${endpoint}` };
    if (fingerprint !== undefined && !doc.key_ids.includes(fingerprint))
      return { kind: 'mismatch', detail: `anchor of ${domain} does not list the DNS pin ${fingerprint}` };
    return { kind: 'confirmed', keyIds: doc.key_ids };
  }

  forget(domain: string): void {
    this.answers.delete(domain);
  }

  private async document(domain: string): Promise<AnchorFetch> {
    const now = this.deps.nowS();
    const hit = this.answers.get(domain);
    if (hit && now < hit.until) return hit.doc;
    const doc = await this.fetchDocument(domain);
    this.answers.set(domain, { doc, until: now + (doc.kind === 'absent' ? ABSENT_TTL_S : ANSWER_TTL_S) });
    return doc;
  }

  private async fetchDocument(domain: string): Promise<AnchorFetch> {
    const url = (this.deps.urlFor ?? anchorUrl)(domain);
    let response: Response;
    try {
      response = await egressFetch(
        url,
        { timeoutMs: this.deps.timeoutMs, maxBodyBytes: ANCHOR_MAX_BYTES, headers: { accept: 'application/json' } },
        this.deps.egress,
      );
    } catch (err) {
      // refused by the egress guard, unreachable, or no certificate the Web PKI vouches for
      return { kind: 'absent', detail: `${url}: ${err instanceof Error ? err.message : String(err)}` };
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      return { kind: 'absent', detail: `${url}: HTTP ${response.status}` };
    }
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(await response.arrayBuffer()).toString('utf8'));
    } catch (err) {
      return { kind: 'mismatch', detail: `${url}: not JSON (${err instanceof Error ? err.message : String(err)})` };
    }
    const parsed = anchorDocumentSchema.safeParse(json);
    if (!parsed.success) return { kind: 'mismatch', detail: `${url}: ${describeIssue(parsed.error)}` };
    return { kind: 'found', doc: parsed.data };
  }
}

type AnchorFetch =
  | { readonly kind: 'found'; readonly doc: z.infer<typeof anchorDocumentSchema> }
  | Exclude<AnchorAnswer, { kind: 'confirmed' }>;
