// The fleet's hop mark: what one secret signs, it verifies; another secret, another request, a
// changed peer address or a stale time is refused.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { signHop, verifyHop } from '../../src/net/node-hop.js';

const secret = Buffer.from('a'.repeat(64));
const request = { method: 'GET', url: '/pmtp/v1/messages/01N94QbYQ0CbX0XJ3G?view=full' };
const hop = { from: 'n1', clientIp: '192.0.2.7', ...request };

describe('node hop mark', () => {
  it('verifies its own marks and nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 64 }), fc.ipV4(), fc.nat(2_000_000_000), (key, ip, at) => {
        const mark = signHop(Buffer.from(key), { ...hop, clientIp: ip }, at);
        expect(verifyHop(Buffer.from(key), mark, request, at)).toEqual({ from: 'n1', clientIp: ip });
        expect(verifyHop(Buffer.concat([Buffer.from(key), Buffer.from('x')]), mark, request, at)).toBeUndefined();
        expect(verifyHop(Buffer.from(key), mark, { ...request, url: `${request.url}x` }, at)).toBeUndefined();
      }),
    );
  });

  it('refuses a forged peer address, a stale mark and garbage', () => {
    const mark = signHop(secret, hop, 1000);
    expect(verifyHop(secret, mark.replace('192.0.2.7', '192.0.2.8'), request, 1000)).toBeUndefined();
    expect(verifyHop(secret, mark, request, 1061)).toBeUndefined();
    expect(verifyHop(secret, mark, request, 1060)).toEqual({ from: 'n1', clientIp: '192.0.2.7' });
    expect(verifyHop(secret, 'n1;1.2.3.4', request, 1000)).toBeUndefined();
    expect(verifyHop(secret, `${mark};extra`, request, 1000)).toBeUndefined();
  });
});
