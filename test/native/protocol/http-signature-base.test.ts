import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ed25519Sign } from '../../../src/native/protocol/ed25519.js';
import {
  component,
  contentDigest,
  contentDigestMatches,
  requestDerivedComponents,
  signatureBase,
  signatureParamsValue,
} from '../../../src/native/protocol/http-signature-base.js';
import {
  type BareItem,
  type InnerList,
  type Parameters,
  parseDictionary,
  StructuredFieldError,
  serializeInnerList,
} from '../../../src/native/protocol/structured-fields.js';

describe('RFC 9421 / RFC 9530 published examples', () => {
  it('reproduces RFC 9421 B.2.6 (ed25519) byte for byte', () => {
    // Appendix B.1.4 test key (seed) and the B.2 test request.
    const seed = Buffer.from('n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU', 'base64url');
    const ids = ['date', '@method', '@path', '@authority', 'content-type', 'content-length'].map((n) => component(n));
    const values = ['Tue, 20 Apr 2021 02:07:55 GMT', 'POST', '/foo', 'example.com', 'application/json', '18'];
    const params = signatureParamsValue(ids, [
      ['created', 1618884473],
      ['keyid', 'test-key-ed25519'],
    ]);
    expect(params).toBe(
      '("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"',
    );
    const base = signatureBase(
      ids.map((id, i) => [id, values[i]!] as const),
      params,
    );
    expect(ed25519Sign(seed, Buffer.from(base)).toString('base64')).toBe(
      'wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==',
    );
  });

  it('reproduces the RFC 9530 sha-256 example', () => {
    const body = Buffer.from('{"hello": "world"}');
    expect(contentDigest(body)).toBe('sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:');
    expect(contentDigestMatches('sha-512=:AAAA:, sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:', body)).toBe(
      'match',
    );
    expect(contentDigestMatches(contentDigest(body), Buffer.from('{}'))).toBe('mismatch');
    expect(contentDigestMatches('sha-256=abc', body)).toBe('malformed');
    expect(contentDigestMatches('md5=:AAAA:', body)).toBe('malformed');
  });
});

describe('derived components', () => {
  it('normalises authority and target URI', () => {
    expect(requestDerivedComponents('post', 'https://MX.B.example:443/pmtp/v1/notices?x=1')).toEqual({
      '@method': 'POST',
      '@target-uri': 'https://mx.b.example/pmtp/v1/notices?x=1',
      '@authority': 'mx.b.example',
    });
    expect(requestDerivedComponents('GET', 'http://127.0.0.1:8080/x')?.['@authority']).toBe('127.0.0.1:8080');
  });

  it.each(['/relative', 'ftp://b.example/x', 'https://u:p@b.example/x', 'https://b.example/x#frag'])(
    'refuses %s',
    (url) => {
      expect(requestDerivedComponents('GET', url)).toBeUndefined();
    },
  );

  it('refuses component values with line breaks', () => {
    expect(() => signatureBase([[component('x'), 'a\nb']], '()')).toThrow();
  });
});

describe('structured fields', () => {
  it('parses dictionaries with inner lists, parameters and byte sequences', () => {
    const dict = parseDictionary(
      'pmtp=("@method" "signature";req;key="pmtp");created=1;alg="ed25519", other=:AQI=:;x, flag',
    );
    const pmtp = dict.get('pmtp') as InnerList;
    expect(pmtp.items.map((i) => i.value)).toEqual(['@method', 'signature']);
    expect(pmtp.items[1]!.params).toEqual([
      ['req', true],
      ['key', 'pmtp'],
    ]);
    expect(pmtp.params).toEqual([
      ['created', 1],
      ['alg', 'ed25519'],
    ]);
    expect(dict.get('other')).toEqual({ value: Buffer.from([1, 2]), params: [['x', true]] });
    expect(dict.get('flag')).toEqual({ value: true, params: [] });
  });

  it.each([
    ['duplicate member', 'a=1, a=2'],
    ['trailing comma', 'a=1,'],
    ['decimal', 'a=1.5'],
    ['unterminated string', 'a="x'],
    ['bad escape', 'a="\\n"'],
    ['non-canonical base64', 'a=:AQJ=:'],
    ['upper-case key', 'A=1'],
    ['garbage after member', 'a=1 b'],
    ['unclosed inner list', 'a=(1 2'],
    ['duplicate parameter', 'a=1;x;x'],
  ])('rejects %s', (_, text) => {
    expect(() => parseDictionary(text)).toThrow(StructuredFieldError);
  });

  it('inner lists survive serialise → parse (property)', () => {
    const str = fc.string({ unit: fc.constantFrom(...'az09 "\\-_:;/'.split('')), maxLength: 8 });
    const item = fc.record({
      value: fc.oneof(str, fc.integer({ min: -1e9, max: 1e9 }), fc.boolean()),
      params: fc.constant<Parameters>([]),
    });
    const param = fc.tuple(fc.constantFrom('created', 'keyid'), str) as fc.Arbitrary<[string, BareItem]>;
    const list: fc.Arbitrary<InnerList> = fc.record({
      items: fc.array(item, { maxLength: 5 }),
      params: fc.array(param, { maxLength: 1 }),
    });
    fc.assert(
      fc.property(list, (l) => {
        const text = `k=${serializeInnerList(l)}`;
        expect(parseDictionary(text).get('k')).toEqual(l);
      }),
    );
  });
});
