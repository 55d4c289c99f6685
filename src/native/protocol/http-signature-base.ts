// RFC 9421 signature bases and RFC 9530 Content-Digest, independent of PMTP's profile of them:
// component values from a request or response, the `@signature-params` line, and the base string.
import { sha256 } from './bytes.js';
import {
  type Member,
  type Parameters,
  parseDictionary,
  serializeInnerList,
  serializeItem,
} from './structured-fields.js';

/** Header fields as Node gives them (lowercase names) or as a plain record. */
export type HeaderBag = Record<string, string | readonly string[] | undefined>;

/** A covered component: a derived `@name` or a lowercase field name, with its parameters. */
export interface ComponentId {
  name: string;
  params: Parameters;
}

export const component = (name: string, params: Parameters = []): ComponentId => ({ name, params });

/** Field value per RFC 9421 §2.1: lines trimmed and joined by ", "; undefined if absent. */
export function fieldValue(headers: HeaderBag, name: string): string | undefined {
  const wanted = name.toLowerCase();
  const lines: string[] = [];
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    for (const line of typeof value === 'string' ? [value] : value) lines.push(line.trim());
  }
  return lines.length > 0 ? lines.join(', ') : undefined;
}

/** One member of a dictionary field, or undefined if the field or the member is absent. */
export function dictionaryMember(headers: HeaderBag, field: string, key: string): Member | undefined {
  const value = fieldValue(headers, field);
  return value === undefined ? undefined : parseDictionary(value).get(key);
}

/**
 * `@method`, `@target-uri` and `@authority` of a request. The URL is normalised (WHATWG) and must be
 * absolute http(s) without credentials or fragment; authority is lowercase, default port omitted.
 */
export function requestDerivedComponents(method: string, url: string): Record<string, string> | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const web = parsed.protocol === 'https:' || parsed.protocol === 'http:';
  if (!web || parsed.username || parsed.password || parsed.hash || url.includes('#')) return undefined;
  return { '@method': method.toUpperCase(), '@target-uri': parsed.href, '@authority': parsed.host };
}

/** The `@signature-params` value: covered components as an inner list with the signature parameters. */
export function signatureParamsValue(components: readonly ComponentId[], params: Parameters): string {
  return serializeInnerList({ items: components.map((c) => ({ value: c.name, params: c.params })), params });
}

/** RFC 9421 §2.5: one `"id": value` line per component, then the `@signature-params` line; LF-joined. */
export function signatureBase(lines: ReadonlyArray<readonly [ComponentId, string]>, paramsValue: string): string {
  const out = lines.map(([id, value]) => {
    if (/[\r\n]/.test(value)) throw new TypeError('component values cannot contain CR or LF');
    return `${serializeItem({ value: id.name, params: id.params })}: ${value}`;
  });
  out.push(`"@signature-params": ${paramsValue}`);
  return out.join('\n');
}

/** RFC 9530 Content-Digest with sha-256 over the exact body octets (empty body included). */
export function contentDigest(body: Uint8Array): string {
  return `sha-256=:${sha256(body).toString('base64')}:`;
}

/** Whether a Content-Digest field's sha-256 member matches the body; other algorithms are ignored. */
export function contentDigestMatches(value: string, body: Uint8Array): 'match' | 'mismatch' | 'malformed' {
  try {
    const member = parseDictionary(value).get('sha-256');
    if (!member || 'items' in member || !(member.value instanceof Uint8Array)) return 'malformed';
    return Buffer.from(member.value).equals(sha256(body)) ? 'match' : 'mismatch';
  } catch {
    return 'malformed';
  }
}
