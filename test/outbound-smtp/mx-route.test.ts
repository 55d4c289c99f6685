// Where mail for a domain goes: configured hops first, then MX (null MX, implicit MX, priorities).
import { describe, expect, it } from 'vitest';
import { MailbridgeError } from '../../src/codes.js';
import { routeFor } from '../../src/outbound-smtp/mx-route.js';
import { testConfig } from '../support/config.js';
import { staticResolver } from '../support/static-resolver.js';

const base = { spool: { dir: '/tmp/unused' } };
const config = testConfig({
  ...base,
  outbound: { port_map: { 'mx2.example.net': 2525 } },
  domains: { postfix: { 'corp.example': { host: '127.0.0.1', port: 24, protocol: 'lmtp' } } },
});

const zone = staticResolver({
  mx: {
    'example.net': [
      { exchange: 'mx2.example.net', priority: 20 },
      { exchange: 'mx1.example.net', priority: 10 },
    ],
    'nullmx.example': [{ exchange: '', priority: 0 }],
    'dotmx.example': [{ exchange: '.', priority: 0 }],
    'nomxaddr.example': [{ exchange: 'ghost.nomxaddr.example', priority: 10 }],
  },
  a: {
    'mx1.example.net': ['127.0.0.11'],
    'mx2.example.net': ['127.0.0.12', '127.0.0.13'],
    'implicit.example': ['127.0.0.20'],
  },
  aaaa: { 'mx1.example.net': ['::1'] },
  txt: { 'noaddr.example': [['v=spf1 -all']] },
  servfail: ['broken.example'],
});

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MailbridgeError);
  return (err as MailbridgeError).code;
}

describe('routeFor', () => {
  it('orders MX hosts by priority, one hop per address, port_map standing in for 25', async () => {
    const route = await routeFor('Example.NET.', config, zone);
    expect(route.kind).toBe('mx');
    expect(route.domain).toBe('example.net');
    expect(route.hops).toEqual([
      { host: '127.0.0.11', port: 25, protocol: 'smtp', mxName: 'mx1.example.net' },
      { host: '::1', port: 25, protocol: 'smtp', mxName: 'mx1.example.net' },
      { host: '127.0.0.12', port: 2525, protocol: 'smtp', mxName: 'mx2.example.net' },
      { host: '127.0.0.13', port: 2525, protocol: 'smtp', mxName: 'mx2.example.net' },
    ]);
  });

  it('fails a null MX permanently, whether written as "" or "."', async () => {
    expect(await codeOf(routeFor('nullmx.example', config, zone))).toBe('null_mx');
    expect(await codeOf(routeFor('dotmx.example', config, zone))).toBe('null_mx');
  });

  it('falls back to the A record when there is no MX', async () => {
    const route = await routeFor('implicit.example', config, zone);
    expect(route.hops).toEqual([{ host: '127.0.0.20', port: 25, protocol: 'smtp', mxName: 'implicit.example' }]);
  });

  it('calls a domain that does not exist permanent, and one with no address transient', async () => {
    expect(await codeOf(routeFor('nowhere.example', config, zone))).toBe('unknown_domain');
    expect(await codeOf(routeFor('noaddr.example', config, zone))).toBe('no_route');
    expect(await codeOf(routeFor('nomxaddr.example', config, zone))).toBe('no_route');
  });

  it('treats SERVFAIL as worth a retry', async () => {
    const err = await routeFor('broken.example', config, zone).catch((e: unknown) => e);
    expect((err as MailbridgeError).code).toBe('no_route');
    expect((err as MailbridgeError).status.retryable).toBe(true);
  });

  it('sends domains.postfix entries to their own host and protocol, without DNS', async () => {
    zone.asked.length = 0;
    expect(await routeFor('corp.example', config, zone)).toEqual({
      domain: 'corp.example',
      kind: 'local',
      hops: [{ host: '127.0.0.1', port: 24, protocol: 'lmtp' }],
    });
    expect(zone.asked).toEqual([]);
  });

  it('sends everything else to the relayhost when one is set', async () => {
    const relayed = testConfig({ ...base, outbound: { relayhost: { host: '127.0.0.1', port: 10025 } } });
    expect(await routeFor('nullmx.example', relayed, zone)).toEqual({
      domain: 'nullmx.example',
      kind: 'relayhost',
      hops: [{ host: '127.0.0.1', port: 10025, protocol: 'smtp' }],
    });
  });
});
