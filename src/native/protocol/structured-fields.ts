// The subset of RFC 8941 structured fields that HTTP message signatures need: dictionaries whose
// members are items or inner lists, with parameters; integers, strings, tokens, byte sequences and
// booleans (no decimals). Parsing is strict: any deviation throws StructuredFieldError.
import { tryFromBase64 } from './bytes.js';

export class StructuredFieldError extends Error {
  override readonly name = 'StructuredFieldError';
}

export interface Token {
  token: string;
}
export type BareItem = number | string | Token | Uint8Array | boolean;
export type Parameters = Array<[string, BareItem]>;
export interface Item {
  value: BareItem;
  params: Parameters;
}
export interface InnerList {
  items: Item[];
  params: Parameters;
}
export type Member = Item | InnerList;

export function isInnerList(member: Member): member is InnerList {
  return 'items' in member;
}

const KEY = /^[a-z*][a-z0-9_.*-]*/;
const TOKEN = /^[A-Za-z*][!#$%&'*+.^_`|~0-9A-Za-z:/-]*/;
const INTEGER = /^-?\d{1,15}/;

class Cursor {
  constructor(
    private text: string,
    public pos = 0,
  ) {}
  get done(): boolean {
    return this.pos >= this.text.length;
  }
  peek(): string {
    return this.text[this.pos] ?? '';
  }
  take(pattern: RegExp, what: string): string {
    const match = pattern.exec(this.text.slice(this.pos));
    if (!match) throw new StructuredFieldError(`expected ${what} at ${this.pos}`);
    this.pos += match[0].length;
    return match[0];
  }
  expect(char: string): void {
    if (this.peek() !== char) throw new StructuredFieldError(`expected "${char}" at ${this.pos}`);
    this.pos++;
  }
  skip(chars: string): void {
    while (!this.done && chars.includes(this.peek())) this.pos++;
  }
}

function parseBareItem(c: Cursor): BareItem {
  const ch = c.peek();
  if (ch === '-' || (ch >= '0' && ch <= '9')) {
    const value = Number(c.take(INTEGER, 'integer'));
    if (c.peek() === '.') throw new StructuredFieldError('decimals are not supported');
    return value;
  }
  if (ch === '"') return JSON.parse(c.take(/^"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*"/, 'string')) as string;
  if (ch === ':') {
    const bytes = tryFromBase64(c.take(/^:[A-Za-z0-9+/=]*:/, 'byte sequence').slice(1, -1));
    if (!bytes) throw new StructuredFieldError('byte sequence is not canonical base64');
    return bytes;
  }
  if (ch === '?') return c.take(/^\?[01]/, 'boolean') === '?1';
  return { token: c.take(TOKEN, 'bare item') };
}

function parseParameters(c: Cursor): Parameters {
  const params: Parameters = [];
  while (c.peek() === ';') {
    c.pos++;
    c.skip(' ');
    const key = c.take(KEY, 'parameter key');
    if (params.some(([k]) => k === key)) throw new StructuredFieldError(`duplicate parameter ${key}`);
    let value: BareItem = true;
    if (c.peek() === '=') {
      c.pos++;
      value = parseBareItem(c);
    }
    params.push([key, value]);
  }
  return params;
}

function parseMember(c: Cursor): Member {
  if (c.peek() !== '(') {
    const value = parseBareItem(c);
    return { value, params: parseParameters(c) };
  }
  c.pos++;
  const items: Item[] = [];
  for (;;) {
    c.skip(' ');
    if (c.peek() === ')') break;
    const value = parseBareItem(c);
    items.push({ value, params: parseParameters(c) });
    if (c.peek() !== ' ' && c.peek() !== ')') throw new StructuredFieldError(`bad inner list at ${c.pos}`);
  }
  c.pos++;
  return { items, params: parseParameters(c) };
}

/** Parses a dictionary; duplicate keys are an error here (RFC 8941 would keep the last). */
export function parseDictionary(text: string): Map<string, Member> {
  const c = new Cursor(text.trim());
  const dict = new Map<string, Member>();
  while (!c.done) {
    const key = c.take(KEY, 'member key');
    if (dict.has(key)) throw new StructuredFieldError(`duplicate member ${key}`);
    if (c.peek() === '=') {
      c.pos++;
      dict.set(key, parseMember(c));
    } else {
      dict.set(key, { value: true, params: parseParameters(c) });
    }
    c.skip(' \t');
    if (c.done) break;
    c.expect(',');
    c.skip(' \t');
    if (c.done) throw new StructuredFieldError('trailing comma');
  }
  return dict;
}

function serializeBareItem(value: BareItem): string {
  if (typeof value === 'boolean') return value ? '?1' : '?0';
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || Math.abs(value) > 999_999_999_999_999)
      throw new StructuredFieldError('bad integer');
    return String(value);
  }
  if (typeof value === 'string') {
    if (!/^[\x20-\x7e]*$/.test(value)) throw new StructuredFieldError('strings must be printable ASCII');
    return `"${value.replace(/[\\"]/g, (ch) => `\\${ch}`)}"`;
  }
  if (value instanceof Uint8Array) return `:${Buffer.from(value).toString('base64')}:`;
  if (!TOKEN.test(value.token) || TOKEN.exec(value.token)?.[0] !== value.token)
    throw new StructuredFieldError('bad token');
  return value.token;
}

function serializeParameters(params: Parameters): string {
  return params.map(([key, value]) => (value === true ? `;${key}` : `;${key}=${serializeBareItem(value)}`)).join('');
}

export function serializeItem(item: Item): string {
  return serializeBareItem(item.value) + serializeParameters(item.params);
}

export function serializeInnerList(list: InnerList): string {
  return `(${list.items.map(serializeItem).join(' ')})${serializeParameters(list.params)}`;
}

export function serializeMember(member: Member): string {
  return isInnerList(member) ? serializeInnerList(member) : serializeItem(member);
}
