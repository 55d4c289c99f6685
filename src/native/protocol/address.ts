// PMTP/1 address and domain syntax: `local@domain`, UTF-8 local part with no quoting, ASCII domain.
// Domains in protocol fields are lowercase A-labels without a trailing dot; in addresses the domain
// compares case-insensitively and the local part exactly.

export interface Address {
  local: string;
  domain: string;
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
// Controls, space and the characters that delimit addresses in headers and lists.
const LOCAL_FORBIDDEN = /[\u0000-\u0020\u007f-\u009f@<>",;:\\()[\]]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** A canonical domain: lowercase LDH labels (IDNs as xn-- A-labels), at least two, ≤ 253 octets. */
export function isDomain(text: string): boolean {
  if (text.length === 0 || text.length > 253) return false;
  const labels = text.split('.');
  return labels.length >= 2 && labels.every((label) => LABEL.test(label));
}

export function parseAddress(text: string): Address | undefined {
  const at = text.lastIndexOf('@');
  if (at <= 0) return undefined;
  const local = text.slice(0, at);
  const domain = text.slice(at + 1).toLowerCase();
  if (Buffer.byteLength(local, 'utf8') > 64 || LOCAL_FORBIDDEN.test(local) || LONE_SURROGATE.test(local)) {
    return undefined;
  }
  return isDomain(domain) ? { local, domain } : undefined;
}

export function isAddress(text: string): boolean {
  return parseAddress(text) !== undefined;
}

/** Lowercased domain of a valid address; throws on an invalid one (callers validate first). */
export function domainOf(address: string): string {
  const parsed = parseAddress(address);
  if (!parsed) throw new TypeError(`not a PMTP address: ${address}`);
  return parsed.domain;
}

/** Local parts compare exactly, domains case-insensitively. */
export function sameAddress(a: string, b: string): boolean {
  const x = parseAddress(a);
  const y = parseAddress(b);
  return x !== undefined && y !== undefined && x.local === y.local && x.domain === y.domain;
}
