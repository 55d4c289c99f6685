// §9.1 step 7 on a real gateway: a well-formed signature from an origin whose key set cannot be had
// is answered with why, not 401 unknown_key: 502 and not retryable when only the origin can fix it
// (no record, a key endpoint that serves no key set), 503 key_fetch_failed with Retry-After otherwise.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDomainKey } from '../../../src/native/protocol/domain-keys.js';
import { freePort } from '../../support/smtp-sink.js';
import { staticResolver } from '../../support/static-resolver.js';
import { type PmtpNode, startNode } from './harness.js';
import { send, signedCall } from './raw-request.js';

describe('answers when the origin has no obtainable key set', () => {
  let b: PmtpNode;
  const stranger = generateDomainKey();

  beforeAll(async () => {
    const port = await freePort();
    const closed = await freePort();
    const record = (endpoint: string) => [[`v=PMTP1; e=${endpoint}; fp=${stranger.keyId}`]];
    b = await startNode({
      domain: 'b.example',
      port,
      peers: {},
      resolver: staticResolver({
        txt: {
          // its endpoint is b itself, which serves no key set for another domain (404)
          '_pmtp.borrowed.example': record(`http://127.0.0.1:${port}`),
          // nothing listens there
          '_pmtp.down.example': record(`http://127.0.0.1:${closed}`),
        },
        servfail: ['_pmtp.flaky.example'],
      }),
    });
  });
  afterAll(async () => {
    await b?.close();
  });

  const from = (origin: string) =>
    send(
      signedCall({
        key: stranger,
        origin,
        destination: 'b.example',
        method: 'GET',
        url: `${b.endpoint}/pmtp/v1/status/cookiecookiecookiecookie`,
      }),
    );

  it('502, not retryable, when the origin publishes no record or its endpoint serves no key set', async () => {
    for (const [origin, code] of [
      ['legacy.example', 'discovery_record_missing'],
      ['borrowed.example', 'keyset_malformed'],
    ] as const) {
      const answer = await from(origin);
      expect([answer.status, answer.json.error], origin).toEqual([
        502,
        expect.objectContaining({ code, retryable: false }),
      ]);
      expect(answer.headers.get('retry-after')).toBeNull();
    }
  });

  it('503 key_fetch_failed with Retry-After when the endpoint or the DNS cannot be reached, also from memory', async () => {
    for (const origin of ['down.example', 'flaky.example', 'down.example']) {
      const answer = await from(origin);
      expect([answer.status, answer.json.error], origin).toEqual([
        503,
        expect.objectContaining({ code: 'key_fetch_failed', retryable: true }),
      ]);
      expect(answer.headers.get('retry-after')).toBe('60');
      // the transient cause is about our network: it is not told
      expect(answer.json.error.message).not.toContain('127.0.0.1');
    }
  });

  it('still answers 401 unknown_key for a key id the origin key set lacks', async () => {
    const answer = await send(
      signedCall({
        key: stranger,
        origin: 'b.example',
        destination: 'b.example',
        method: 'GET',
        url: `${b.endpoint}/pmtp/v1/status/cookiecookiecookiecookie`,
      }),
    );
    expect([answer.status, answer.json.error]).toEqual([401, expect.objectContaining({ code: 'unknown_key' })]);
  });
});
