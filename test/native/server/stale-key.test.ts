// A recipient holding a stale copy of the origin's key set answers 401 unknown_key. That is
// retryable (docs/protocol.md §15, §16.2): the origin keeps the notice and tries again, and once the
// recipient has the new key set the mail is delivered. Nothing is rejected for good.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDomainKey } from '../../../src/native/protocol/domain-keys.js';
import { type PmtpNode, startNode, startPair, textMessage, until } from './harness.js';

describe('a stale key set on the recipient side', () => {
  let a: PmtpNode;
  let b: PmtpNode;
  beforeAll(async () => {
    ({ a, b } = await startPair());
  });
  afterAll(async () => Promise.all([a?.close(), b?.close()]));

  async function send(from: PmtpNode, text: string) {
    const msg = textMessage('alice@a.example', 'bob@b.example', text);
    return from.service.outbox.submit({ manifest: msg.manifest, body: msg.body, recipients: ['bob@b.example'] });
  }

  it('retries a notice refused with unknown_key and delivers once the recipient has the new keys', async () => {
    const first = await send(a, 'before the new key\r\n');
    await until(async () => (await a.service.context.status.get(first.id))[0]?.state === 'delivered');
    // a.example comes back with a new key; b.example still holds the old key set (refetched at most once a minute)
    await a.close();
    a = await startNode({
      domain: 'a.example',
      port: a.config.pmtp.listen.port,
      key: generateDomainKey(),
      peers: { 'b.example': { endpoint: b.endpoint } },
    });
    const second = await send(a, 'after the new key\r\n');
    const refused = await until(async () => {
      const job = await a.service.context.queues.queue('notice').getJob(`notice-${second.queueId}-b.example`);
      const status = (await a.service.context.status.get(second.id))[0];
      if (status?.state === 'rejected') return status;
      return job?.failedReason?.includes('unknown_key') ? job : undefined;
    });
    expect(refused).not.toMatchObject({ state: 'rejected' });
    b.service.context.directory.forget('a.example');
    const final = await until(async () => {
      const s = (await a.service.context.status.get(second.id))[0];
      return s && (s.state === 'delivered' || s.state === 'rejected') ? s : undefined;
    });
    expect(final).toMatchObject({ state: 'delivered' });
  });
});
