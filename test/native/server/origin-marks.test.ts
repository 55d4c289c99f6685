// What the origin records around a pull, between two real servers: a full pull moves only the
// recipients that domain accepted to fetched, and a pulled recipient whose ack never comes is
// given up when the copy expires, so the message can finish.
import { afterEach, describe, expect, it } from 'vitest';
import { expiryJobId } from '../../../src/mail/jobs.js';
import { freePort } from '../../support/smtp-sink.js';
import { type PmtpNode, startNode, startPair, textMessage, until } from './harness.js';

describe('origin-side marks after a pull', () => {
  let nodes: PmtpNode[] = [];
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.close()));
    nodes = [];
  });

  it('a full pull leaves a recipient the puller has not accepted where it was', async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    const a = await startNode({
      domain: 'a.example',
      port: pa,
      peers: { 'b.example': { endpoint: `http://127.0.0.1:${pb}` } },
    });
    // gateway mail is deferred for everyone; b's decision then accepts bob and challenges carol,
    // and a's first status poll comes long after b's pull and ack
    const b = await startNode({
      domain: 'b.example',
      port: pb,
      peers: { 'a.example': { endpoint: `http://127.0.0.1:${pa}` } },
      pmtp: { defer_min_poll_s: 600, defer_max_poll_s: 3600, trusted_gateways: ['a.example'] },
      firstContact: { users: [{ address: 'carol@b.example', default: 'challenge' }] },
    });
    nodes = [a, b];
    const msg = textMessage('dan@legacy.example', 'bob@b.example', 'from SMTP\r\n');
    const nowS = Math.floor(Date.now() / 1000);
    const manifest = {
      ...msg.manifest,
      provenance: {
        spf: { result: 'pass' as const, domain: 'legacy.example' },
        dkim: [{ result: 'pass' as const, domain: 'legacy.example', selector: 's1' }],
        dmarc: { result: 'pass' as const, domain: 'legacy.example' },
        arc: { result: 'none' as const },
        client_ip: '192.0.2.10',
        helo: 'mail.legacy.example',
        mail_from: 'dan@legacy.example',
        rcpt_to: ['bob@b.example', 'carol@b.example'],
        received_at: nowS,
        gateway: 'a.example',
      },
    };
    const sent = await a.service.outbox.submit({
      manifest,
      body: msg.body,
      recipients: ['bob@b.example', 'carol@b.example'],
    });
    const stateAt = async (node: PmtpNode, recipient: string) =>
      node === a
        ? (await a.service.context.status.recipient(sent.id, recipient))?.state
        : (await b.service.context.inbound.recipient('a.example', sent.id, recipient))?.state;
    await until(async () => (await stateAt(b, 'carol@b.example')) === 'challenged');
    await until(async () => (await stateAt(a, 'bob@b.example')) === 'delivered');
    // carol was never accepted: a still waits for her decision (its next poll learns the challenge)
    expect(await stateAt(a, 'carol@b.example')).toBe('deferred');
    expect(b.delivered.map((d) => d.request.recipients)).toEqual([['bob@b.example']]);
  });

  it('a pulled recipient whose ack never comes is given up when the copy expires', async () => {
    const pair = await startPair({ b: { workers: false } });
    nodes = [pair.a, pair.b];
    const { a, b } = pair;
    // b pulls, but its local delivery keeps deferring: no ack is ever sent
    b.deliveryAnswer = (req) => req.recipients.map((recipient) => ({ recipient, status: 'deferred' }));
    const msg = textMessage('alice@a.example', 'bob@b.example', 'never acked\r\n');
    const sent = await a.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['bob@b.example'],
    });
    await until(async () => (await a.service.context.status.recipient(sent.id, 'bob@b.example'))?.state === 'accepted');
    b.startWorkers();
    await until(async () => (await a.service.context.status.recipient(sent.id, 'bob@b.example'))?.state === 'fetched');
    const expiry = await a.service.context.queues.queue('notice').getJob(expiryJobId(sent.queueId));
    await expiry?.promote();
    await until(async () => !(await a.service.context.spool.has(sent.queueId)));
    expect(await a.service.context.status.recipient(sent.id, 'bob@b.example')).toMatchObject({
      state: 'given-up',
      code: 'lifetime_exceeded',
    });
  });
});
