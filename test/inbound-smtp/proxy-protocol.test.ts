// Listeners behind a load balancer: the PROXY header parser (v1 text, v2 binary; fuzzed), a real
// Debian HAProxy in front of our listeners with send-proxy and send-proxy-v2 (the client's own
// address reaches the spool record, the Received field and the per-IP cap), implicit TLS on
// a 465-style listener (also behind HAProxy), and the per-IP cap's exception list.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import fc from 'fast-check';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readProxyHeader, v2MaxBytes } from '../../src/inbound-smtp/proxy-header.js';
import { haproxyMissing, type PrivateHaproxy, rawConnect, startHaproxy } from '../support/haproxy.js';
import { sendWithSwaks } from '../support/swaks.js';
import { tempDir } from '../support/tmp.js';
import { type Harness, message, startHarness } from './harness.js';
import { RawSmtp } from './raw-smtp.js';

function v2(family: number, command: number, body: Buffer): Buffer {
  const head = Buffer.from([
    0x0d,
    0x0a,
    0x0d,
    0x0a,
    0x00,
    0x0d,
    0x0a,
    0x51,
    0x55,
    0x49,
    0x54,
    0x0a,
    0x20 | command,
    family,
    0,
    0,
  ]);
  head.writeUInt16BE(body.length, 14);
  return Buffer.concat([head, body]);
}

describe('PROXY header parser', () => {
  it('reads v1 TCP4, TCP6 and UNKNOWN, and says when it needs more bytes', () => {
    const line = Buffer.from('PROXY TCP4 192.0.2.7 198.51.100.1 40000 25\r\nEHLO x\r\n');
    expect(readProxyHeader(line)).toEqual({
      kind: 'header',
      length: 44,
      client: { ip: '192.0.2.7', port: 40000, destinationIp: '198.51.100.1', destinationPort: 25 },
    });
    expect(readProxyHeader(Buffer.from('PROXY TCP6 2001:db8::7 2001:db8::1 1 25\r\n'))).toMatchObject({
      client: { ip: '2001:db8::7' },
    });
    expect(readProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'))).toEqual({
      kind: 'header',
      length: 15,
      client: undefined,
    });
    expect(readProxyHeader(line.subarray(0, 20))).toEqual({ kind: 'incomplete' });
    expect(readProxyHeader(Buffer.from('PRO'))).toEqual({ kind: 'incomplete' });
  });

  it('refuses a v1 line that lies: family and address disagree, bad ports, no header, overlong', () => {
    const bad = [
      'PROXY TCP4 2001:db8::7 192.0.2.1 1 25\r\n',
      'PROXY TCP4 192.0.2.7 192.0.2.1 065 25\r\n',
      'PROXY TCP4 192.0.2.7 192.0.2.1 70000 25\r\n',
      'PROXY TCP4 mx.evil.test 192.0.2.1 1 25\r\n',
      'PROXY TCP4 192.0.2.7 192.0.2.1 1\r\n',
      'EHLO mx.example\r\n',
      `PROXY TCP4 ${'1'.repeat(120)}`,
    ];
    for (const line of bad) expect(readProxyHeader(Buffer.from(line)).kind, line).toBe('invalid');
  });

  it('reads v2 PROXY over TCP4 and TCP6 (TLVs skipped) and LOCAL as no client', () => {
    const tcp4 = Buffer.from([192, 0, 2, 7, 198, 51, 100, 1, 0x9c, 0x40, 0, 25]);
    const withTlv = Buffer.concat([tcp4, Buffer.from([0x01, 0x00, 0x02, 0x68, 0x32])]);
    expect(readProxyHeader(Buffer.concat([v2(0x11, 1, withTlv), Buffer.from('EHLO')]))).toEqual({
      kind: 'header',
      length: 16 + withTlv.length,
      client: { ip: '192.0.2.7', port: 40000, destinationIp: '198.51.100.1', destinationPort: 25 },
    });
    const six = Buffer.alloc(36);
    six.write('20010db8000000000000000000000007', 0, 'hex');
    six.write('20010db8000000000000000000000001', 16, 'hex');
    six.writeUInt16BE(1234, 32);
    six.writeUInt16BE(25, 34);
    expect(readProxyHeader(v2(0x21, 1, six))).toMatchObject({ client: { ip: '2001:db8:0:0:0:0:0:7', port: 1234 } });
    expect(readProxyHeader(v2(0x00, 0, Buffer.alloc(0)))).toEqual({ kind: 'header', length: 16, client: undefined });
    expect(readProxyHeader(v2(0x11, 1, tcp4).subarray(0, 20))).toEqual({ kind: 'incomplete' });
  });

  it('refuses v2 with a wrong version or command, truncated addresses or a length past the bound', () => {
    const tcp4 = Buffer.alloc(12);
    const wrongVersion = v2(0x11, 1, tcp4);
    wrongVersion[12] = 0x11;
    expect(readProxyHeader(wrongVersion).kind).toBe('invalid');
    expect(readProxyHeader(v2(0x11, 5, tcp4)).kind).toBe('invalid');
    expect(readProxyHeader(v2(0x11, 1, Buffer.alloc(8))).kind).toBe('invalid');
    expect(readProxyHeader(v2(0x11, 1, Buffer.alloc(v2MaxBytes))).kind).toBe('invalid');
  });

  it('never throws on arbitrary bytes, and a header it accepts never claims more bytes than it was given', () => {
    const signature = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
    const input = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.concat([signature, Buffer.from(b)])),
      fc.string({ maxLength: 120 }).map((s) => Buffer.from(`PROXY ${s}`)),
    );
    fc.assert(
      fc.property(input, (bytes) => {
        const result = readProxyHeader(bytes);
        if (result.kind === 'header') expect(result.length).toBeLessThanOrEqual(bytes.length);
      }),
    );
  });

  it('reads back every v1 line it could be sent for an IPv4 client', () => {
    const ip = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
    fc.assert(
      fc.property(ip, ip, fc.nat(65535), fc.nat(65535), (src, dst, sport, dport) => {
        const result = readProxyHeader(Buffer.from(`PROXY TCP4 ${src} ${dst} ${sport} ${dport}\r\n`));
        expect(result).toMatchObject({ kind: 'header', client: { ip: src, port: sport, destinationPort: dport } });
      }),
    );
  });
});

const noHaproxy = haproxyMissing();

describe.skipIf(noHaproxy)(`listeners behind a real HAProxy${noHaproxy ? ` (skipped: ${noHaproxy})` : ''}`, () => {
  let harness: Harness;
  let haproxy: PrivateHaproxy;
  let removeDir: () => Promise<void>;

  beforeAll(async () => {
    const tmp = await tempDir('proxy-tls');
    removeDir = tmp.remove;
    const key = path.join(tmp.dir, 'key.pem');
    const cert = path.join(tmp.dir, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-subj',
        '/CN=mx.gw.test',
        '-days',
        '1',
      ],
      { stdio: 'ignore' },
    );
    harness = await startHarness({
      // SPF passes only for the client behind the proxy, never for the proxy's own 127.0.0.1
      zone: '$ORIGIN elsewhere.test.\n@ TXT "v=spf1 ip4:127.0.0.2 -all"\n',
      listeners: [
        { role: 'mx', proxy_protocol: true, proxy_from: ['127.0.0.1'], max_connections_per_ip: 1 },
        { role: 'mx', tls: { key, cert }, tls_mode: 'implicit', proxy_protocol: true },
        { role: 'mx', tls: { key, cert }, tls_mode: 'implicit' },
        { role: 'mx', max_connections_per_ip: 1 },
      ],
      config: { smtp: { relay_clients: ['127.0.0.1'], limit_exceptions: ['127.0.0.5'] } },
    });
    haproxy = await startHaproxy([
      { backendPort: harness.port('mx', 0), version: 1 },
      { backendPort: harness.port('mx', 0), version: 2 },
      { backendPort: harness.port('mx', 1), version: 2 },
    ]);
  }, 30_000);

  afterAll(async () => {
    await haproxy?.stop();
    await harness?.close();
    await removeDir?.();
  });

  async function newestRecord() {
    const entries = await harness.entries();
    return harness.meta(entries[entries.length - 1]!);
  }

  for (const [index, version] of [
    [0, 'v1'],
    [1, 'v2'],
  ] as const) {
    it(`takes the client's own address from HAProxy's ${version} header for the record and Received`, async () => {
      const transcript = await sendWithSwaks({
        server: `127.0.0.1:${haproxy.ports[index]}`,
        from: 'someone@elsewhere.test',
        to: 'user@native.test',
        localInterface: '127.0.0.2',
      });
      expect(transcript).toMatch(/<- {2}250 2\.0\.0 Ok: queued as /);
      expect(transcript).toContain('Nice to meet you, [127.0.0.2]');
      const record = await newestRecord();
      expect(record.client.ip).toBe('127.0.0.2');
      expect(record.received).toContain('[127.0.0.2]');
      expect(record.authenticationResults).toMatch(/spf=pass .*smtp\.mailfrom=(someone@)?elsewhere\.test/);
    });
  }

  it('caps sessions per proxied client, not per proxy: a second client through the same HAProxy gets in', async () => {
    const first = await RawSmtp.connect(haproxy.ports[0]!, '127.0.0.2');
    const again = await RawSmtp.connect(haproxy.ports[0]!, '127.0.0.2');
    const other = await RawSmtp.connect(haproxy.ports[0]!, '127.0.0.3');
    expect(first.greeting).toMatch(/^220 /);
    expect(again.greeting).toMatch(/^421 4\.7\.0/);
    expect(other.greeting).toMatch(/^220 /);
    for (const c of [first, again, other]) c.end();
  });

  it('closes, before any greeting, a connection without a header or from an address not in proxy_from', async () => {
    // no header: nothing is said until the header arrives, and EHLO is no header
    const plain = rawConnect(harness.port('mx', 0));
    const said: Buffer[] = [];
    plain.on('data', (d: Buffer) => said.push(d));
    plain.write('EHLO mx.client.test\r\n');
    await new Promise<void>((resolve) => plain.on('close', () => resolve()));
    expect(Buffer.concat(said).toString()).not.toMatch(/^220/);
    const stranger = rawConnect(harness.port('mx', 0), '127.0.0.9');
    stranger.write('PROXY TCP4 192.0.2.7 127.0.0.1 40000 25\r\n');
    const strangerSaid: Buffer[] = [];
    stranger.on('data', (d: Buffer) => strangerSaid.push(d));
    stranger.on('error', () => undefined);
    await new Promise<void>((resolve) => stranger.on('close', () => resolve()));
    expect(Buffer.concat(strangerSaid).length).toBe(0);
  });

  it('speaks TLS from the first byte on an implicit-TLS listener, directly and behind HAProxy (v2)', async () => {
    for (const [port, local, expected] of [
      [harness.port('mx', 2), '127.0.0.2', '127.0.0.2'],
      [haproxy.ports[2]!, '127.0.0.4', '127.0.0.4'],
    ] as const) {
      const transport = nodemailer.createTransport({
        host: '127.0.0.1',
        port,
        secure: true,
        localAddress: local,
        name: 'client.test',
        tls: { rejectUnauthorized: false },
      });
      const info = await transport.sendMail({
        envelope: { from: 'someone@elsewhere.test', to: ['user@native.test'] },
        raw: message('someone@elsewhere.test', 'user@native.test'),
      });
      transport.close();
      expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued/);
      const record = await newestRecord();
      expect(record.client).toMatchObject({ ip: expected, tls: true });
    }
  });

  it('exempts smtp.limit_exceptions from max_connections_per_ip, and only them', async () => {
    const port = harness.port('mx', 3);
    const exempt = [await RawSmtp.connect(port, '127.0.0.5'), await RawSmtp.connect(port, '127.0.0.5')];
    const capped = [await RawSmtp.connect(port, '127.0.0.6'), await RawSmtp.connect(port, '127.0.0.6')];
    expect(exempt.map((c) => c.greeting.slice(0, 3))).toEqual(['220', '220']);
    expect(capped.map((c) => c.greeting.slice(0, 3))).toEqual(['220', '421']);
    for (const c of [...exempt, ...capped]) c.end();
  });
});

describe('limit exceptions default to smtp.relay_clients, as Postfix defaults to $mynetworks', () => {
  it('exempts a relay client when limit_exceptions is unset', async () => {
    const harness = await startHarness({
      listeners: [{ role: 'mx', max_connections_per_ip: 1 }],
      config: { smtp: { relay_clients: ['127.0.0.7'] } },
    });
    try {
      const port = harness.port('mx');
      const relay = [await RawSmtp.connect(port, '127.0.0.7'), await RawSmtp.connect(port, '127.0.0.7')];
      expect(relay.map((c) => c.greeting.slice(0, 3))).toEqual(['220', '220']);
      for (const c of relay) c.end();
    } finally {
      await harness.close();
    }
  });
});
