import { describe, expect, it } from 'vitest';
import { isAddress, isDomain, parseAddress, sameAddress } from '../../../src/native/protocol/address.js';
import { isBase64Url, tryFromBase64, tryFromBase64Url } from '../../../src/native/protocol/bytes.js';

describe('strict base64url', () => {
  it('accepts canonical unpadded text', () => {
    expect(tryFromBase64Url('AQID')?.toString('hex')).toBe('010203');
    expect(tryFromBase64Url('_-8')?.toString('hex')).toBe('ffef');
    expect(tryFromBase64Url('')?.length).toBe(0);
  });

  it.each(['AQI=', 'AQ+/', 'AB', 'A', 'AQ I', 'AQID\n'])('rejects %j', (text) => {
    expect(tryFromBase64Url(text)).toBeUndefined();
  });

  it('checks decoded length', () => {
    expect(isBase64Url('AQID', 3)).toBe(true);
    expect(isBase64Url('AQID', 4)).toBe(false);
  });

  it('standard base64 must be padded and canonical', () => {
    expect(tryFromBase64('AQI=')?.toString('hex')).toBe('0102');
    expect(tryFromBase64('AQI')).toBeUndefined();
    expect(tryFromBase64('AQJ=')).toBeUndefined();
    expect(tryFromBase64('AQ-_')).toBeUndefined();
  });
});

describe('addresses and domains', () => {
  it.each(['a.example', 'xn--bcher-kva.example', 'mx-1.b.example'])('domain %s is valid', (d) => {
    expect(isDomain(d)).toBe(true);
  });

  it.each([
    'A.example',
    'localhost',
    'a.example.',
    '-a.example',
    'a..example',
    'bücher.example',
    `${'x'.repeat(64)}.example`,
  ])('domain %s is invalid', (d) => {
    expect(isDomain(d)).toBe(false);
  });

  it('accepts UTF-8 local parts without quoting', () => {
    expect(parseAddress('Zoë.Ünicode+tag@B.Example')).toEqual({ local: 'Zoë.Ünicode+tag', domain: 'b.example' });
  });

  it.each([
    'bob',
    '@b.example',
    'bob@',
    'b ob@b.example',
    '"bob"@b.example',
    'a<b@b.example',
    'bob@b',
    `${'x'.repeat(65)}@b.example`,
  ])('address %j is invalid', (a) => {
    expect(isAddress(a)).toBe(false);
  });

  it('compares local parts exactly and domains case-insensitively', () => {
    expect(sameAddress('bob@B.example', 'bob@b.EXAMPLE')).toBe(true);
    expect(sameAddress('Bob@b.example', 'bob@b.example')).toBe(false);
  });
});
