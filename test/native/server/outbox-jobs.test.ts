// What a submit leaves in the notice queue, with no worker running: the copy is already current,
// one notify per destination domain and the expiry job wait, and no fan-out job exists, so no
// notice job can run before the outbox names the copy it announces.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expiryJobId } from '../../../src/mail/jobs.js';
import { type PmtpNode, startPair, textMessage, until } from './harness.js';

describe('an outbox submit', () => {
  let a: PmtpNode;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ a, close } = await startPair({ a: { workers: false } }));
  });
  afterAll(async () => close());

  it('records the copy, then queues its notices and its expiry once, without a fan-out job', async () => {
    const msg = textMessage('alice@a.example', 'bob@b.example', 'announced once recorded\r\n');
    const sent = await a.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['bob@b.example', 'carol@b.example'],
    });
    const { queues, outbox } = a.service.context;
    expect(await outbox.current(sent.id)).toMatchObject({ queueId: sent.queueId, version: sent.version });
    const notice = queues.queue('notice');
    const notify = await notice.getJob(`notice-${sent.queueId}-b.example`);
    expect(notify?.data).toEqual({ action: 'notify', queueId: sent.queueId, domain: 'b.example' });
    expect(await notify?.getState()).toBe('waiting');
    const expiry = await notice.getJob(expiryJobId(sent.queueId));
    expect(expiry?.data).toEqual({ action: 'expire', queueId: sent.queueId });
    expect(await expiry?.getState()).toBe('delayed');
    expect(await notice.getJob(sent.queueId)).toBeUndefined();
    const waiting = (await notice.getJobs(['waiting', 'delayed'])).filter((j) => j.data.queueId === sent.queueId);
    expect(waiting).toHaveLength(2);
  });

  it('writes the copy anew when a submit that died before its commit had recorded it', async () => {
    const msg = textMessage('alice@a.example', 'bob@b.example', 'recorded, never stored\r\n');
    const { outbox, spool, queues } = a.service.context;
    // what the dead submit left: the version recorded as current, under a queue id never committed
    const unstored = (await spool.draft()).queueId;
    await outbox.setCurrent(msg.manifest.id, {
      version: msg.manifest.version,
      queueId: unstored,
      digest: 'x',
      expires: Math.floor(Date.now() / 1000) + 3600,
    });
    const sent = await a.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['bob@b.example'],
    });
    expect(sent.queueId).not.toBe(unstored);
    expect(await spool.has(sent.queueId)).toBe(true);
    expect(await outbox.current(sent.id)).toMatchObject({ queueId: sent.queueId, digest: sent.digest });
    expect(await queues.queue('notice').getJob(`notice-${sent.queueId}-b.example`)).toBeDefined();
  });
});

describe('an outbox copy every recipient acked', () => {
  let a: PmtpNode;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ a, close } = await startPair());
  });
  afterAll(async () => close());

  it('leaves the spool with its expiry job, which would otherwise wait out the notice lifetime', async () => {
    const msg = textMessage('alice@a.example', 'bob@b.example', 'acked, then forgotten\r\n');
    const sent = await a.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['bob@b.example'],
    });
    const { spool, queues } = a.service.context;
    await until(async () => !(await spool.has(sent.queueId)));
    await until(async () => (await queues.queue('notice').getJob(expiryJobId(sent.queueId))) === undefined);
  });
});
