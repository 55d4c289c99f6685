// SSRF before authentication: a notice signed under a key we do not know makes us discover the
// claimed origin and fetch its key set. When its DNS points at loopback, link-local (metadata) or
// private addresses, the egress guard refuses, no connection is made, and the notice is refused.
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDomainKey } from '../../../src/native/protocol/domain-keys.js';
import { fetchUrl, PATHS } from '../../../src/native/protocol/endpoints.js';
import { freePort } from '../../support/smtp-sink.js';
import { staticResolver } from '../../support/static-resolver.js';
import { type PmtpNode, startNode } from './harness.js';
import { send, signedCall } from './raw-request.js';

describe('PMTP egress guard', () => {
  let canary: Server;
  let canaryPort: number;
  let connections = 0;
  let b: PmtpNode;
  const attacker = generateDomainKey();
  const origins = ['loop.attacker.test', 'tls.attacker.test', 'meta.attacker.test'];
  // plain http is an endpoint only for loopback hosts (§4): the metadata address is no endpoint at all
  const refusal: Record<string, string> = {
    'loop.attacker.test': 'egress_refused',
    'tls.attacker.test': 'egress_refused',
    'meta.attacker.test': 'discovery_record_invalid',
  };

  beforeAll(async () => {
    canary = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((r) => canary.listen(0, '127.0.0.1', r));
    canaryPort = (canary.address() as { port: number }).port;
    const record = (endpoint: string) => [[`v=PMTP1; e=${endpoint}; fp=${attacker.keyId}`]];
    b = await startNode({
      domain: 'b.example',
      port: await freePort(),
      peers: {},
      egressAllow: [],
      resolver: staticResolver({
        txt: {
          '_pmtp.loop.attacker.test': record(`http://127.0.0.1:${canaryPort}`),
          '_pmtp.tls.attacker.test': record(`https://127.0.0.1:${canaryPort}`),
          '_pmtp.meta.attacker.test': record('http://169.254.169.254'),
        },
      }),
    });
  });
  afterAll(async () => {
    await b?.close();
    await new Promise((r) => canary.close(r));
  });

  it('refuses notices from origins whose endpoint is not public, without contacting them', async () => {
    for (const origin of origins) {
      for (let attempt = 0; attempt < 5; attempt++) {
        const id = `ssrfprobe${attempt}${origin.split('.')[0]}xxxxxxxxx`;
        const call = signedCall({
          key: attacker,
          origin,
          destination: 'b.example',
          method: 'POST',
          url: `${b.endpoint}${PATHS.notices}`,
          body: {
            origin,
            destination: 'b.example',
            notices: [
              {
                id,
                version: 1,
                size: 3,
                manifest_digest: 'MeH6W6ozcsF7YCOc5yXsM5pY0T_xMCgxJQyloamE_O4',
                sender: `eve@${origin}`,
                recipients: ['bob@b.example'],
                expires: Math.floor(Date.now() / 1000) + 3600,
                fetch: fetchUrl(`http://127.0.0.1:${canaryPort}`, id),
              },
            ],
          },
        });
        const answer = await send(call);
        // §9.1 step 7: no key set could be had, for a reason only the origin can change: 502, not retryable
        expect(answer.status, JSON.stringify(answer.json)).toBe(502);
        expect(answer.json.error).toMatchObject({ code: refusal[origin], retryable: false });
      }
    }
    expect(connections).toBe(0);
  });
});
