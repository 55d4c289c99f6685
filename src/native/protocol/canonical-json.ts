// Canonical JSON: the one byte spelling of a JSON value that every PMTP/1 signature and digest covers.
// Rules (docs/protocol.md §3): no whitespace; object keys sorted by their UTF-8 bytes; integers only,
// within ±(2^53-1), no -0; strings escaped minimally; no undefined, holes, cycles or non-plain objects.
import { ProtocolError } from './protocol-error.js';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Deeper nesting is rejected so a hostile document cannot exhaust the stack. */
export const MAX_JSON_DEPTH = 32;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function invalid(path: string, why: string): never {
  throw new ProtocolError('canonical_json_invalid', `${path}: ${why}`);
}

/** Byte order of UTF-8 encodings, which is also Unicode code point order. */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function encodeString(text: string, path: string): string {
  if (LONE_SURROGATE.test(text)) invalid(path, 'string has a lone surrogate (not encodable as UTF-8)');
  // JSON.stringify escapes exactly '"', '\\' and U+0000..U+001F (short forms \b \f \n \r \t, else \u00xx).
  return JSON.stringify(text);
}

function encode(value: unknown, path: string, depth: number): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isSafeInteger(value)) invalid(path, `number ${value} is not an integer within ±(2^53-1)`);
      if (Object.is(value, -0)) invalid(path, 'negative zero');
      return String(value);
    case 'string':
      return encodeString(value, path);
    case 'object':
      break;
    default:
      invalid(path, `${typeof value} is not JSON`);
  }
  if (depth >= MAX_JSON_DEPTH) invalid(path, `nesting deeper than ${MAX_JSON_DEPTH}`);
  if (Array.isArray(value)) {
    const items: string[] = [];
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) invalid(`${path}[${i}]`, 'array hole');
      items.push(encode(value[i], `${path}[${i}]`, depth + 1));
    }
    return `[${items.join(',')}]`;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) invalid(path, 'not a plain object');
  const record = value as Record<string, unknown>;
  const members = Object.keys(record)
    .sort(compareKeys)
    .map((key) => `${encodeString(key, path)}:${encode(record[key], `${path}.${key}`, depth + 1)}`);
  return `{${members.join(',')}}`;
}

/** Canonical JSON text; throws ProtocolError('canonical_json_invalid') naming the bad path. */
export function canonicalJson(value: unknown): string {
  return encode(value, '$', 0);
}

export function canonicalBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJson(value), 'utf8');
}

/**
 * Parses bytes that must already be canonical: invalid UTF-8, a BOM, whitespace, duplicate keys,
 * unsorted keys, floats or escapes spelled another way all fail, because re-encoding must reproduce
 * the input byte for byte.
 */
export function parseCanonicalJson(bytes: Uint8Array): JsonValue {
  let text: string;
  let value: unknown;
  try {
    text = strictUtf8.decode(bytes);
    value = JSON.parse(text);
  } catch {
    invalid('$', 'not UTF-8 JSON');
  }
  if (canonicalJson(value) !== text) invalid('$', 'JSON is not in canonical form');
  return value as JsonValue;
}
