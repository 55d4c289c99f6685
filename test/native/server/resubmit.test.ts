// A hand-off job that runs twice (its process was killed after it submitted to the outbox, before
// BullMQ heard it finish) submits the same message again. Between real servers: the second submit
// keeps the first stored copy, the peer still pulls and delivers it once, and restart recovery
// leaves the outbox's copy alone while its expiry job waits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PmtpNode, startPair, textMessage, until } from './harness.js';

describe('the same message submitted twice', () => {
  let a: PmtpNode;
  let b: PmtpNode;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ a, b, close } = await startPair({ b: { workers: false } }));
  });
  afterAll(async () => close());

  it('keeps the copy the notices name, so the pull and the delivery still succeed once', async () => {
    const msg = textMessage('alice@a.example', 'bob@b.example', 'sent once, submitted twice\r\n');
    const first = await a.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['bob@b.example'],
    });
    await until(async () => (await a.service.context.status.get(first.id))[0]?.state === 'accepted');
    const again = await a.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['bob@b.example'],
    });
    expect(again).toEqual(first);
    expect(await a.service.context.outbox.current(first.id)).toMatchObject({
      queueId: first.queueId,
      digest: first.digest,
    });
    await expect(
      a.service.context.spool.openBody(first.queueId).then((b) => {
        b.stream.destroy();
        return true;
      }),
    ).resolves.toBe(true);

    b.startWorkers();
    await until(async () => (await a.service.context.status.get(first.id))[0]?.state === 'delivered');
    expect(b.delivered.filter((d) => d.request.manifest.id === first.id)).toHaveLength(1);
  });

  it('refuses an older version than the current one', async () => {
    const v1 = textMessage('alice@a.example', 'bob@b.example', 'v1\r\n');
    await a.service.outbox.submit({ manifest: v1.manifest, body: v1.body, recipients: ['bob@b.example'] });
    const v2 = textMessage('alice@a.example', 'bob@b.example', 'v2\r\n', v1.manifest.id, 2);
    await a.service.outbox.edit({ manifest: v2.manifest, body: v2.body, recipients: ['bob@b.example'] });
    await expect(
      a.service.outbox.submit({ manifest: v1.manifest, body: v1.body, recipients: ['bob@b.example'] }),
    ).rejects.toThrow(/older than the current 2/);
  });

  it('restart recovery does not requeue a stored copy whose expiry job waits', async () => {
    const msg = textMessage('alice@a.example', 'bob@b.example', 'kept for pulls\r\n');
    const sent = await a.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['bob@b.example'],
    });
    await until(
      async () =>
        ['accepted', 'delivered'].includes((await a.service.context.status.get(sent.id))[0]?.state ?? '') || undefined,
    );
    const { requeued } = await a.service.context.acceptor.recover();
    expect(requeued).not.toContain(sent.queueId);
  });
});
