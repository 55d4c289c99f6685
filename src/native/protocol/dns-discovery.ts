// The `_pmtp.<domain>` DNS TXT record that says where a domain's PMTP/1 endpoint is and which key
// signs its key set: `v=PMTP1; e=https://host[:port]; fp=ed25519:...`. Strict parser and formatter.
import type { StatusCode } from '../../codes.js';
import { fail, ok, type Result } from './protocol-error.js';
import { isEndpoint } from './protocol-fields.js';

export interface DiscoveryRecord {
  /** Origin of the domain's PMTP/1 endpoints. */
  endpoint: string;
  /** Key id that must have signed the domain's key set. */
  fingerprint: string;
}

export type DiscoveryErrorCode = Extract<StatusCode, 'discovery_record_missing' | 'discovery_record_invalid'>;

const TAG = /^[a-z][a-z0-9_]{0,15}$/;
const KEY_ID = /^ed25519:[A-Za-z0-9_-]{43}$/;

export function discoveryName(domain: string): string {
  return `_pmtp.${domain}`;
}

export function formatDiscoveryRecord(record: DiscoveryRecord): string {
  return `v=PMTP1; e=${record.endpoint}; fp=${record.fingerprint}`;
}

/**
 * Tags are `name=value` separated by `;` with optional spaces; `v=PMTP1` comes first; `e` and `fp`
 * are required and may appear once; unknown tags are ignored so later versions can add some.
 */
export function parseDiscoveryRecord(text: string): Result<DiscoveryRecord, 'discovery_record_invalid'> {
  const bad = (why: string) => fail('discovery_record_invalid', why);
  const segments = text.split(';').map((s) => s.trim());
  if (segments.length > 1 && segments.at(-1) === '') segments.pop();
  const tags = new Map<string, string>();
  for (const segment of segments) {
    const eq = segment.indexOf('=');
    const name = segment.slice(0, eq);
    const value = segment.slice(eq + 1);
    if (eq < 0 || !TAG.test(name) || value === '' || /\s/.test(value)) return bad(`bad tag "${segment}"`);
    if (tags.has(name)) return bad(`duplicate tag ${name}`);
    if (tags.size === 0 && (name !== 'v' || value !== 'PMTP1')) return bad('record must start with v=PMTP1');
    tags.set(name, value);
  }
  const endpoint = tags.get('e');
  const fingerprint = tags.get('fp');
  if (endpoint === undefined || !isEndpoint(endpoint)) return bad('e= must be an https origin (http only on loopback)');
  if (fingerprint === undefined || !KEY_ID.test(fingerprint)) return bad('fp= must be an ed25519 key id');
  return ok({ endpoint, fingerprint });
}

/**
 * Picks the PMTP/1 record from a TXT lookup (each record as its character-strings, which are
 * concatenated). Other TXT records are ignored; zero or several PMTP/1 records are errors.
 */
export function selectDiscoveryRecord(
  records: readonly (readonly string[])[],
): Result<DiscoveryRecord, DiscoveryErrorCode> {
  const candidates = records.map((chunks) => chunks.join('')).filter((txt) => /^v=PMTP1\s*(;|$)/.test(txt.trim()));
  if (candidates.length === 0) return fail('discovery_record_missing', 'no v=PMTP1 TXT record');
  if (candidates.length > 1) return fail('discovery_record_invalid', 'more than one v=PMTP1 TXT record');
  return parseDiscoveryRecord(candidates[0] ?? '');
}
