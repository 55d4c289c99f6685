// Which IP addresses an outbound request may reach: public unicast only. Loopback, private,
// shared (CGNAT), link-local (cloud metadata lives there), unique-local, multicast, reserved and
// documentation ranges are refused, and so are IPv6 forms that embed such an IPv4 address.

import { BlockList, isIP } from 'node:net';

const notPublic = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  notPublic.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  // unspecified, loopback and the deprecated IPv4-compatible form
  ['::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const)
  notPublic.addSubnet(net, bits, 'ipv6');

/** IPv4 carried inside an IPv6 address (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16). */
function embeddedIpv4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^(?:::ffff:|64:ff9b::)(\d{1,3}(?:\.\d{1,3}){3})$/.exec(lower)?.[1];
  if (dotted) return dotted;
  const groups = expandIpv6(lower);
  if (!groups) return undefined;
  const hex = (g: number) => `${(g >> 8) & 0xff}.${g & 0xff}`;
  const isZero = (from: number, to: number) => groups.slice(from, to).every((g) => g === 0);
  if (isZero(0, 5) && groups[5] === 0xffff) return `${hex(groups[6]!)}.${hex(groups[7]!)}`;
  if (groups[0] === 0x64 && groups[1] === 0xff9b && isZero(2, 6)) return `${hex(groups[6]!)}.${hex(groups[7]!)}`;
  if (groups[0] === 0x2002) return `${hex(groups[1]!)}.${hex(groups[2]!)}`;
  return undefined;
}

function expandIpv6(address: string): number[] | undefined {
  const [head = '', tail] = address.split('::');
  const parse = (part: string) =>
    part === '' ? [] : part.split(':').map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? Number.parseInt(g, 16) : Number.NaN));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  if ([...left, ...right].some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) return undefined;
  const fill = 8 - left.length - right.length;
  if (tail === undefined ? fill !== 0 : fill < 0) return undefined;
  return [...left, ...Array<number>(fill).fill(0), ...right];
}

/** True for an address an outbound request may connect to without an explicit allowance. */
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return !notPublic.check(address, 'ipv4');
  if (family !== 6) return false;
  const inner = embeddedIpv4(address);
  if (inner !== undefined) return isIP(inner) === 4 && !notPublic.check(inner, 'ipv4');
  return !notPublic.check(address, 'ipv6');
}
