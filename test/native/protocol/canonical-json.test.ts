import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  type JsonValue,
  MAX_JSON_DEPTH,
  parseCanonicalJson,
} from '../../../src/native/protocol/canonical-json.js';
import { ProtocolError } from '../../../src/native/protocol/protocol-error.js';

const json: fc.Arbitrary<JsonValue> = fc.letrec<{ value: JsonValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.maxSafeInteger().filter((n) => !Object.is(n, -0)),
    fc.string({ unit: 'binary' }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ unit: 'binary', maxLength: 6 }), tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** Same members, inserted in reverse order, recursively. */
function reversed(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(reversed);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, JsonValue> = {};
  for (const key of Object.keys(value).reverse()) out[key] = reversed(value[key] as JsonValue);
  return out;
}

const bytes = (text: string) => Buffer.from(text, 'utf8');

describe('canonicalJson', () => {
  it('sorts keys by UTF-8 bytes (code points), not UTF-16 code units', () => {
    // U+FF61 sorts before U+1F600 by code point, after it by UTF-16 (0xD83D < 0xFF61).
    expect(canonicalJson({ '\u{1F600}': 1, '\uFF61': 2, b: 3, B: 4, '': 5 })).toBe('{"":5,"B":4,"b":3,"｡":2,"😀":1}');
  });

  it('escapes only quote, backslash and C0 controls', () => {
    expect(canonicalJson('"\\\b\f\n\r\t\u0000\u001f\u007f\u2028é😀')).toBe(
      '"\\"\\\\\\b\\f\\n\\r\\t\\u0000\\u001f\u007f\u2028é😀"',
    );
  });

  it('writes no whitespace and keeps array order', () => {
    expect(canonicalJson({ z: [3, 1, 2], a: { y: true, x: null } })).toBe('{"a":{"x":null,"y":true},"z":[3,1,2]}');
  });

  const bad: Array<[string, unknown]> = [
    ['float', 1.5],
    ['NaN', Number.NaN],
    ['infinity', Number.POSITIVE_INFINITY],
    ['negative zero', -0],
    ['unsafe integer', 2 ** 53],
    ['undefined', undefined],
    ['undefined member', { a: undefined }],
    ['bigint', 1n],
    ['function', () => 1],
    ['symbol', Symbol('x')],
    ['Date', new Date(0)],
    ['Map', new Map()],
    ['class instance', new (class Thing {})()],
    ['lone surrogate', '\uD800'],
    ['lone surrogate key', { '\uDC00': 1 }],
    // biome-ignore lint/suspicious/noSparseArray: a hole is the input this case feeds the encoder
    ['array hole', [1, , 3]],
  ];
  it.each(bad)('rejects %s', (_, value) => {
    expect(() => canonicalJson(value)).toThrow(ProtocolError);
  });

  it('names the bad path', () => {
    expect(() => canonicalJson({ parts: [{ length: 1.5 }] })).toThrow('$.parts[0].length');
  });

  it('limits nesting depth', () => {
    let deep: unknown = 0;
    for (let i = 0; i < MAX_JSON_DEPTH; i++) deep = [deep];
    expect(() => canonicalJson(deep)).not.toThrow();
    expect(() => canonicalJson([deep])).toThrow(ProtocolError);
  });

  it('accepts null-prototype objects', () => {
    const o = Object.create(null) as Record<string, number>;
    o.b = 1;
    o.a = 2;
    expect(canonicalJson(o)).toBe('{"a":2,"b":1}');
  });

  it('is independent of key insertion order (property)', () => {
    fc.assert(fc.property(json, (value) => canonicalJson(reversed(value)) === canonicalJson(value)));
  });

  it('is standard JSON that parses back to the same value, and re-parses canonically (property)', () => {
    fc.assert(
      fc.property(json, (value) => {
        const text = canonicalJson(value);
        expect(JSON.parse(text)).toEqual(value);
        expect(parseCanonicalJson(bytes(text))).toEqual(value);
      }),
    );
  });
});

describe('parseCanonicalJson', () => {
  it.each([
    ['whitespace', '{"a": 1}'],
    ['unsorted keys', '{"b":1,"a":2}'],
    ['duplicate keys', '{"a":1,"a":1}'],
    ['float spelling', '{"a":1.0}'],
    ['exponent', '1e2'],
    ['escaped letter', '"\\u0041"'],
    ['upper-case hex escape', '"\\u001F"'],
    ['trailing newline', 'null\n'],
    ['BOM', '\uFEFFnull'],
  ])('rejects %s', (_, text) => {
    expect(() => parseCanonicalJson(bytes(text))).toThrow(ProtocolError);
  });

  it('rejects invalid UTF-8', () => {
    expect(() => parseCanonicalJson(Buffer.from([0x22, 0xc3, 0x28, 0x22]))).toThrow(ProtocolError);
  });

  it('accepts canonical text', () => {
    expect(parseCanonicalJson(bytes('{"a":[1,-2,"x"],"b":null}'))).toEqual({ a: [1, -2, 'x'], b: null });
  });
});
