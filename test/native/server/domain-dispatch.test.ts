// Which domain's app answers a request on the shared PMTP listener.
import { describe, expect, it } from 'vitest';
import { pickDomain } from '../../../src/native/server/domain-dispatch.js';

const at = (endpoint: string, name: string) => ({ endpoint: () => endpoint, name });
const shared = new Map([
  ['a.example', at('https://pmtp.host.example', 'a')],
  ['c.example', at('https://pmtp.host.example', 'c')],
]);
const separate = new Map([
  ['a.example', at('https://pmtp.a.example', 'a')],
  ['c.example', at('https://pmtp.c.example:8443', 'c')],
]);

describe('pickDomain', () => {
  it('follows PMTP-Destination first, then ?domain= on the key set and server information paths', () => {
    expect(pickDomain(shared, { url: '/pmtp/v1/acks', headers: { 'pmtp-destination': 'C.example' } }).name).toBe('c');
    expect(pickDomain(shared, { url: '/.well-known/pmtp/keys?domain=c.example', headers: {} }).name).toBe('c');
    expect(pickDomain(shared, { url: '/.well-known/pmtp/server?domain=c.example', headers: {} }).name).toBe('c');
    // ?domain= means something only on those two paths
    expect(pickDomain(shared, { url: '/.well-known/pmtp/endpoint?domain=c.example', headers: {} }).name).toBe('a');
  });

  it('uses the host when each domain has its own public URL, the default when hosts are shared or unknown', () => {
    expect(
      pickDomain(separate, { url: '/.well-known/pmtp/server', headers: { host: 'pmtp.c.example:8443' } }).name,
    ).toBe('c');
    expect(pickDomain(separate, { url: '/', headers: { ':authority': 'pmtp.c.example:8443' } }).name).toBe('c');
    expect(pickDomain(shared, { url: '/', headers: { host: 'pmtp.host.example' } }).name).toBe('a');
    expect(pickDomain(separate, { url: '/', headers: { 'pmtp-destination': 'z.example', host: 'x' } }).name).toBe('a');
  });
});
