// Two real PMTP/1 servers on loopback: notice → pull → ack ends delivered on both sides, and a
// batch of 1,000 notices travels in one request to a server configured to take that many (the spec's ceiling).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchUrl, PATHS } from '../../../src/native/protocol/endpoints.js';
import { batchResponseSchema } from '../../../src/native/protocol/notice.js';
import { type PmtpNode, startPair, textMessage, until } from './harness.js';

describe('PMTP/1 between two servers', () => {
  let a: PmtpNode;
  let b: PmtpNode;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ a, b, close } = await startPair({ b: { pmtp: { max_batch: 1000 } } }));
  });
  afterAll(async () => close());

  it('notice, pull and ack end delivered', async () => {
    const msg = textMessage('alice@a.example', 'bob@b.example', 'Hello Bob, lunch? ☕\r\n');
    const sent = await a.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['bob@b.example'],
    });
    const status = await until(async () => {
      const s = await a.service.context.status.get(sent.id);
      return s[0]?.state === 'delivered' ? s : undefined;
    });
    expect(status).toMatchObject([{ recipient: 'bob@b.example', state: 'delivered', domain: 'b.example' }]);
    expect(b.delivered).toHaveLength(1);
    const got = b.delivered[0]!;
    expect(got.request.recipients).toEqual(['bob@b.example']);
    expect(got.request.trustClass).toBe('new-verified');
    expect(got.request.origin).toBe('a.example');
    expect(Buffer.concat(got.parts).equals(msg.body)).toBe(true);
    const inbound = await b.service.context.inbound.recipient('a.example', sent.id, 'bob@b.example');
    expect(inbound?.state).toBe('delivered');
  });

  it('carries 1,000 notices in one request and delivers them all', async () => {
    const rt = a.service.context;
    const ids: string[] = [];
    const notices = [];
    for (let i = 0; i < 1000; i++) {
      const msg = textMessage('alice@a.example', `user${i}@b.example`, `message ${i}\r\n`);
      // the outbox's own notice jobs race this batch: idempotency must keep it to one pull each
      const recipient = `user${i}@b.example`;
      const sent = await a.service.outbox.submit({ manifest: msg.manifest, body: msg.body, recipients: [recipient] });
      ids.push(sent.id);
      notices.push({
        id: sent.id,
        version: 1,
        size: msg.body.length,
        manifest_digest: sent.digest,
        sender: 'alice@a.example',
        recipients: [recipient],
        expires: rt.nowS() + 3600,
        fetch: fetchUrl(a.endpoint, sent.id),
      });
    }
    const response = await rt.client.json(
      {
        destination: 'b.example',
        method: 'POST',
        path: PATHS.notices,
        body: { origin: 'a.example', destination: 'b.example', notices },
        signedResponse: true,
      },
      batchResponseSchema,
    );
    expect(response.results).toHaveLength(1000);
    expect(response.results.every((r) => 'recipients' in r && r.recipients[0]?.disposition === 'accepted')).toBe(true);
    await until(async () => {
      for (const id of ids) if ((await rt.status.get(id))[0]?.state !== 'delivered') return false;
      return true;
    }, 60_000);
    const copies = new Map<string, number>();
    for (const d of b.delivered) copies.set(d.request.manifest.id, (copies.get(d.request.manifest.id) ?? 0) + 1);
    expect(ids.every((id) => copies.get(id) === 1)).toBe(true);
  }, 90_000);
});
