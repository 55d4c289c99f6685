// §9.1 step 7 on a real gateway: a well-formed signature from an origin whose key set cannot be had
// is answered with why, not 401 unknown_key: 502 and not retryable when only the origin can fix it
// (no record, a key endpoint that serves no key set), 503 key_fetch_failed with Retry-After otherwise.
// A sender told so keeps its notice on schedule without tripping the destination's circuit breaker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDomainKey } from '../../../src/native/protocol/domain-keys.js';
import { freePort } from '../../support/smtp-sink.js';
import { staticResolver } from '../../support/static-resolver.js';
import { type PmtpNode, startNode, textMessage, until } from './harness.js';
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

describe('a sender whose keys the destination cannot get', () => {
  let a: PmtpNode;
  let b: PmtpNode;
  beforeAll(async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    a = await startNode({
      domain: 'a.example',
      port: pa,
      peers: { 'b.example': { endpoint: `http://127.0.0.1:${pb}` } },
      // one failure would open the breaker
      pmtp: { breaker_failures: 1 },
    });
    // b looks a.example's keys up at its own endpoint, which serves none for a.example
    b = await startNode({
      domain: 'b.example',
      port: pb,
      peers: { 'a.example': { endpoint: `http://127.0.0.1:${pb}` } },
    });
  });
  afterAll(async () => Promise.all([a?.close(), b?.close()]));

  it('keeps the notice for a later try and leaves the breaker closed: the destination is up', async () => {
    const msg = textMessage('alice@a.example', 'bob@b.example', 'can you see my keys?\r\n');
    const sent = await a.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['bob@b.example'],
    });
    const job = await until(async () => {
      const j = await a.service.context.queues.queue('notice').getJob(`notice-${sent.queueId}-b.example`);
      return j?.failedReason?.includes('keyset_malformed') ? j : undefined;
    });
    expect(job.failedReason).toContain('keyset_malformed');
    expect((await a.service.context.status.get(sent.id))[0]?.state).toBe('notified');
    expect(await a.redis.exists(`${a.config.redis.prefix}:pmtp:breaker:b.example`)).toBe(0);
  });
});
