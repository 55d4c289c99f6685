// The egress guard on real loopback sockets: a refused destination is never connected to, an allowed
// name is pinned to what it resolved to, and an answer over its cap or past its time fails typed.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { egressFetch } from '../../src/net/egress-fetch.js';

describe('egressFetch', () => {
  let server: Server;
  let port: number;
  let connections = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        // chunked, no length: the cap must stop the read, not the header
        for (let i = 0; i < 40; i++) res.write(Buffer.alloc(65_536, 1));
        res.end();
      } else if (req.url === '/declared') {
        res.writeHead(200, { 'content-length': String(10 * 1024 * 1024) });
        res.write('x');
      } else if (req.url === '/silent') {
        // never answers
      } else res.end('hello');
    });
    server.on('connection', () => connections++);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const limits = { timeoutMs: 5000, maxBodyBytes: 1_048_576 };
  const none = { allowedHosts: new Set<string>() };
  const refusedWith = async (promise: Promise<unknown>, code: string) =>
    expect(promise).rejects.toMatchObject({ code });

  it('refuses loopback, plain http and a name resolving to a private address, without connecting', async () => {
    const before = connections;
    await refusedWith(egressFetch(`http://127.0.0.1:${port}/`, limits, none), 'egress_refused');
    await refusedWith(egressFetch(`https://127.0.0.1:${port}/`, limits, none), 'egress_refused');
    await refusedWith(egressFetch(`https://[::ffff:127.0.0.1]:${port}/`, limits, none), 'egress_refused');
    await refusedWith(egressFetch('https://169.254.169.254/latest/meta-data/', limits, none), 'egress_refused');
    const rebinding = {
      allowedHosts: new Set<string>(),
      resolve: async () => [{ address: '127.0.0.1', family: 4 }],
    };
    await refusedWith(egressFetch(`https://peer.example:${port}/`, limits, rebinding), 'egress_refused');
    expect(connections).toBe(before);
  });

  it('connects an allowed name to the address it resolved to', async () => {
    const asked: string[] = [];
    const pinned = {
      allowedHosts: new Set(['peer.example']),
      resolve: async (host: string) => {
        asked.push(host);
        return [{ address: '127.0.0.1', family: 4 }];
      },
    };
    const response = await egressFetch(`http://peer.example:${port}/`, limits, pinned);
    expect(await response.text()).toBe('hello');
    expect(asked).toEqual(['peer.example']);
  });

  it('stops reading at the body cap, declared or streamed', async () => {
    const allowed = { allowedHosts: new Set(['127.0.0.1']) };
    await refusedWith(egressFetch(`http://127.0.0.1:${port}/declared`, limits, allowed), 'response_too_large');
    const response = await egressFetch(`http://127.0.0.1:${port}/big`, limits, allowed);
    await expect(response.arrayBuffer()).rejects.toMatchObject({ code: 'response_too_large' });
  });

  it('gives up on a silent server after its timeout', async () => {
    const allowed = { allowedHosts: new Set(['127.0.0.1']) };
    await refusedWith(
      egressFetch(`http://127.0.0.1:${port}/silent`, { ...limits, timeoutMs: 300 }, allowed),
      'connection_failed',
    );
  });
});
