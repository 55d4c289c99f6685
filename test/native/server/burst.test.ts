// Issue 15's burst on two real servers: 300 messages from a to b, with a's budget for b so small that
// any pull or ack it charged would be refused. Every message arrives, no pull job fails or is told
// `rate_limited`, and a spent nothing of b's budget: pulls and acks of notified mail are free.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PmtpNode, startPair, textMessage, until } from './harness.js';

const MESSAGES = 300;

describe('a burst from a to b', () => {
  let a: PmtpNode;
  let b: PmtpNode;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ a, b, close } = await startPair({ a: { pmtp: { rate_limits: { peer_per_minute: 20 } } } }));
  });
  afterAll(async () => close());

  it('delivers 300 messages with no pull throttled', { timeout: 240_000 }, async () => {
    const ids: string[] = [];
    for (let i = 0; i < MESSAGES; i++) {
      const msg = textMessage('alice@a.example', 'bob@b.example', `burst ${i}\r\n`);
      const sent = await a.service.outbox.submit({
        manifest: msg.manifest,
        body: msg.body,
        recipients: ['bob@b.example'],
      });
      ids.push(sent.id);
    }
    await until(async () => b.delivered.length >= MESSAGES, 200_000);
    await until(async () => {
      for (const id of ids) if ((await a.service.context.status.get(id))[0]?.state !== 'delivered') return false;
      return true;
    }, 60_000);
    const pulls = b.service.context.queues.queue('pull');
    const failed = await pulls.getFailed(0, -1);
    expect(failed.map((j) => j.failedReason)).toEqual([]);
    const completed = await pulls.getCompleted(0, -1);
    expect(completed.filter((j) => /rate_limited/.test(j.failedReason ?? '') || j.attemptsMade > 1)).toEqual([]);
    // b's budget at a was never touched
    const charged = await a.redis.keys(`${a.config.redis.prefix}:pmtp:rate:peer:b.example:*`);
    const spent = await Promise.all(charged.map((k) => a.redis.get(k)));
    expect(spent.filter((v) => Number(v) > 0)).toEqual([]);
    expect(new Set(b.delivered.map((d) => d.request.manifest.id)).size).toBe(MESSAGES);
  });
});
