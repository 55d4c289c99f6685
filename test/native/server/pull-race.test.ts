// A recipient accepted while the message's pull job is still running (a decision or a solved
// challenge landing then) finds the job active, so its add queues nothing: the job must notice
// and run once more, or that recipient would wait out the notice lifetime unpulled.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PmtpNode, startPair, textMessage, until } from './harness.js';

describe('a recipient accepted during the pull', () => {
  let a: PmtpNode;
  let b: PmtpNode;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ a, b, close } = await startPair());
  });
  afterAll(async () => close());

  it('is pulled and delivered by a second run of the same job', async () => {
    const msg = textMessage('alice@a.example', 'bob@b.example', 'one more run\r\n');
    let raced = false;
    b.deliveryAnswer = async (req) => {
      if (!raced) {
        raced = true;
        // the run already moved its recipients on: carol turns accepted only now
        const { inbound } = b.service.context;
        const bob = await inbound.recipient('a.example', msg.manifest.id, 'bob@b.example');
        if (!bob) throw new Error('bob has no record');
        await inbound.updateRecipient('a.example', msg.manifest.id, 'carol@b.example', () => ({
          ...bob,
          recipient: 'carol@b.example',
          state: 'accepted',
        }));
      }
      return req.recipients.map((recipient) => ({ recipient, status: 'delivered' as const }));
    };
    await a.service.outbox.submit({ manifest: msg.manifest, body: msg.body, recipients: ['bob@b.example'] });
    await until(async () => b.delivered.some((d) => d.request.recipients.includes('carol@b.example')));
    expect(b.delivered.map((d) => d.request.recipients)).toEqual([['bob@b.example'], ['carol@b.example']]);
    const carol = await b.service.context.inbound.recipient('a.example', msg.manifest.id, 'carol@b.example');
    expect(carol?.state).toBe('delivered');
  });
});
