// Which client addresses a rule admits: single IPs and CIDR blocks, IPv4 and IPv6, matched with
// Node's BlockList. Used for `smtp.relay_clients` (relay-in and XFORWARD trust), the limit
// exceptions and the proxies of a PROXY listener.

import { BlockList, isIP } from 'node:net';

export interface ClientList {
  has(ip: string): boolean;
}

/** Throws on an entry that is neither an IP nor a CIDR block, naming it. */
export function clientList(entries: readonly string[], key = 'smtp.relay_clients'): ClientList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, prefix, extra] = entry.trim().split('/');
    const family = isIP(address ?? '');
    const bits = prefix === undefined ? undefined : Number(prefix);
    const maxBits = family === 6 ? 128 : 32;
    if (!family || extra !== undefined || (bits !== undefined && (!/^\d+$/.test(prefix!) || bits > maxBits))) {
      throw new Error(`${key}: "${entry}" is not an IP address or CIDR block`);
    }
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address!, type);
    else list.addSubnet(address!, bits, type);
  }
  return {
    has(ip: string): boolean {
      const plain = ip.replace(/^::ffff:(?=\d+\.)/i, '').replace(/^IPv6:/i, '');
      const family = isIP(plain);
      return family !== 0 && list.check(plain, family === 6 ? 'ipv6' : 'ipv4');
    },
  };
}
