// The egress guard's address classes: every non-public range is refused, in every IPv6 spelling
// that carries an IPv4 address, and ordinary public addresses pass.
// Pure classification of address strings: nothing here opens a socket, so no traffic leaves loopback.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isPublicAddress } from '../../src/net/address-class.js';

describe('isPublicAddress', () => {
  it.each([
    '127.0.0.1',
    '127.255.0.9',
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '100.64.0.1',
    '169.254.169.254',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    'fe80::1',
    'fd00:ec2::254',
    'fc00::1',
    'ff02::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '64:ff9b::a9fe:a9fe',
    '2002:a00:1::1',
    '2001:db8::1',
    'not-an-address',
  ])('refuses %s', (address) => {
    expect(isPublicAddress(address)).toBe(false);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '2606:4700:4700::1111', '2a00:1450:4001::1', '::ffff:8.8.8.8'])(
    'allows %s',
    (address) => {
      expect(isPublicAddress(address)).toBe(true);
    },
  );

  it('judges an IPv4-mapped or NAT64 address as its IPv4 address', () => {
    fc.assert(
      fc.property(fc.ipV4(), (v4) => {
        const [a, b, c, d] = v4.split('.').map(Number) as [number, number, number, number];
        const hex = `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
        const verdict = isPublicAddress(v4);
        expect(isPublicAddress(`::ffff:${v4}`)).toBe(verdict);
        expect(isPublicAddress(`::ffff:${hex}`)).toBe(verdict);
        expect(isPublicAddress(`64:ff9b::${hex}`)).toBe(verdict);
      }),
    );
  });

  it('refuses every address of the private IPv4 ranges', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), (x, y) => {
        for (const address of [`10.${x}.${y}.1`, `192.168.${x}.${y}`, `127.${x}.${y}.9`, `169.254.${x}.${y}`])
          expect(isPublicAddress(address)).toBe(false);
      }),
    );
  });
});
