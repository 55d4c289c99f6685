// Reads the HAProxy PROXY protocol header (v1 text or v2 binary) at the start of a connection:
// pure, on the bytes received so far. It says "need more", gives the client's address (or none,
// for a LOCAL health check or UNKNOWN), or refuses a header that breaks the specification.

import { isIP } from 'node:net';

/** v2 signature: \r\n\r\n\0\r\nQUIT\n */
const v2Signature = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** v1's own limit: 107 bytes with the CRLF. */
const v1MaxBytes = 107;
/**
 * v2's length field allows 65,535; TLVs (ALPN, authority, SSL, unique id) make real headers a few
 * hundred bytes. More than this is refused rather than buffered.
 */
export const v2MaxBytes = 16 + 1024;

export interface ProxiedClient {
  readonly ip: string;
  readonly port: number;
  /** the address the client connected to (the proxy's listener) */
  readonly destinationIp: string;
  readonly destinationPort: number;
}

export type ProxyHeaderResult =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'invalid'; readonly reason: string }
  /** `client` absent: a LOCAL (health check) or UNKNOWN header; the connection's own address stands */
  | { readonly kind: 'header'; readonly length: number; readonly client: ProxiedClient | undefined };

export function readProxyHeader(input: Buffer): ProxyHeaderResult {
  const probe = input.subarray(0, v2Signature.length);
  if (v2Signature.subarray(0, probe.length).equals(probe)) {
    return probe.length < v2Signature.length ? { kind: 'incomplete' } : readV2(input);
  }
  const v1Prefix = Buffer.from('PROXY ');
  const start = input.subarray(0, v1Prefix.length);
  if (!v1Prefix.subarray(0, start.length).equals(start)) return { kind: 'invalid', reason: 'no PROXY header' };
  return readV1(input);
}

function readV1(input: Buffer): ProxyHeaderResult {
  const end = input.indexOf('\r\n');
  if (end < 0) {
    return input.length >= v1MaxBytes ? { kind: 'invalid', reason: 'v1 line too long' } : { kind: 'incomplete' };
  }
  if (end + 2 > v1MaxBytes) return { kind: 'invalid', reason: 'v1 line too long' };
  const fields = input.subarray(0, end).toString('latin1').split(' ');
  const length = end + 2;
  if (fields[1] === 'UNKNOWN') return { kind: 'header', length, client: undefined };
  if (fields.length !== 6) return { kind: 'invalid', reason: 'v1 needs six fields' };
  const [, family, source, destination, sourcePort, destinationPort] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const version = family === 'TCP4' ? 4 : family === 'TCP6' ? 6 : 0;
  if (!version) return { kind: 'invalid', reason: `v1 family ${family}` };
  if (isIP(source) !== version || isIP(destination) !== version) {
    return { kind: 'invalid', reason: 'v1 address does not match its family' };
  }
  const port = v1Port(sourcePort);
  const destPort = v1Port(destinationPort);
  if (port === undefined || destPort === undefined) return { kind: 'invalid', reason: 'v1 port' };
  return {
    kind: 'header',
    length,
    client: { ip: source.toLowerCase(), port, destinationIp: destination.toLowerCase(), destinationPort: destPort },
  };
}

/** Decimal 0-65535 without leading zeros, as the specification writes it. */
function v1Port(text: string): number | undefined {
  if (!/^(0|[1-9]\d{0,4})$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65_535 ? port : undefined;
}

function readV2(input: Buffer): ProxyHeaderResult {
  if (input.length < 16) return { kind: 'incomplete' };
  const versionCommand = input[12]!;
  const family = input[13]!;
  const bodyLength = input.readUInt16BE(14);
  const length = 16 + bodyLength;
  if (versionCommand >> 4 !== 2) return { kind: 'invalid', reason: 'v2 version' };
  if (length > v2MaxBytes) return { kind: 'invalid', reason: 'v2 header too long' };
  if (input.length < length) return { kind: 'incomplete' };
  const command = versionCommand & 0x0f;
  if (command === 0) return { kind: 'header', length, client: undefined };
  if (command !== 1) return { kind: 'invalid', reason: 'v2 command' };
  const body = input.subarray(16, length);
  // TCP over IPv4 (0x11) and IPv6 (0x21); UDP, unix sockets and unspecified keep the connection's address
  if (family === 0x11) {
    if (body.length < 12) return { kind: 'invalid', reason: 'v2 IPv4 addresses truncated' };
    return {
      kind: 'header',
      length,
      client: {
        ip: [...body.subarray(0, 4)].join('.'),
        destinationIp: [...body.subarray(4, 8)].join('.'),
        port: body.readUInt16BE(8),
        destinationPort: body.readUInt16BE(10),
      },
    };
  }
  if (family === 0x21) {
    if (body.length < 36) return { kind: 'invalid', reason: 'v2 IPv6 addresses truncated' };
    return {
      kind: 'header',
      length,
      client: {
        ip: ipv6(body.subarray(0, 16)),
        destinationIp: ipv6(body.subarray(16, 32)),
        port: body.readUInt16BE(32),
        destinationPort: body.readUInt16BE(34),
      },
    };
  }
  return { kind: 'header', length, client: undefined };
}

/** Eight groups in hex, as smtp-server and net.BlockList accept; an IPv4-mapped address becomes plain IPv4. */
function ipv6(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  if (groups.slice(0, 5).every((g) => g === '0') && groups[5] === 'ffff') return [...bytes.subarray(12)].join('.');
  return groups.join(':');
}
