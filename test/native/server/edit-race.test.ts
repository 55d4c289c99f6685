// An edit racing the recipient's pull, between two real servers: a version pulled before the edit
// is still delivered (and acked) once, and a pull refused as superseded waits for the new
// version's notice instead of withdrawing the recipients, so the new version is delivered.
import { afterEach, describe, expect, it } from 'vitest';
import { pullJobId } from '../../../src/mail/jobs.js';
import { freePort } from '../../support/smtp-sink.js';
import { type PmtpNode, startNode, startPair, textMessage, until } from './harness.js';

describe('an edit racing the pull', () => {
  let pair: { a: PmtpNode; b: PmtpNode; close(): Promise<void> } | undefined;
  afterEach(async () => pair?.close());

  const bob = 'bob@b.example';
  const carol = 'carol@b.example';
  const atA = (a: PmtpNode, id: string) => a.service.context.status.recipient(id, bob);
  const atB = (b: PmtpNode, id: string) => b.service.context.inbound.recipient('a.example', id, bob);

  it('a version pulled before the edit is still delivered, once', async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    const a = await startNode({
      domain: 'a.example',
      port: pa,
      peers: { 'b.example': { endpoint: `http://127.0.0.1:${pb}` } },
    });
    // gateway mail: b defers both, then accepts bob and challenges carol; a polls much later
    const b = await startNode({
      domain: 'b.example',
      port: pb,
      peers: { 'a.example': { endpoint: `http://127.0.0.1:${pa}` } },
      pmtp: { defer_min_poll_s: 600, defer_max_poll_s: 3600, trusted_gateways: ['a.example'] },
      firstContact: { users: [{ address: carol, default: 'challenge' }] },
    });
    pair = { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
    // b pulls version 1 for bob, then its local delivery defers it until the edit has arrived
    b.deliveryAnswer = (req) => req.recipients.map((recipient) => ({ recipient, status: 'deferred' }));
    const v1 = gatewayMessage('v1\r\n');
    const sent = await a.service.outbox.submit({ manifest: v1.manifest, body: v1.body, recipients: [bob, carol] });
    await until(async () => (await atB(b, sent.id))?.state === 'fetched');
    // the edit reaches b for carol (still undecided); bob keeps the version he pulled (§12)
    const v2 = gatewayMessage('v2\r\n', sent.id, 2);
    await a.service.outbox.edit({ manifest: v2.manifest, body: v2.body, recipients: [bob, carol] });
    await until(async () => (await b.service.context.inbound.head('a.example', sent.id))?.version === 2);
    b.deliveryAnswer = (req) => req.recipients.map((recipient) => ({ recipient, status: 'delivered' }));
    await until(async () => (await atB(b, sent.id))?.state === 'delivered');
    expect(await atB(b, sent.id)).toMatchObject({ version: 1 });
    // a learns bob kept version 1, and that it was delivered (not the edit's already_fetched)
    await until(async () => (await atA(a, sent.id))?.state === 'delivered');
    expect(await atA(a, sent.id)).toMatchObject({ version: 1 });
    await until(async () => !(await a.service.context.spool.has(sent.queueId)));
    const deliveredTo = b.delivered.filter((d) => d.request.recipients.includes(bob));
    expect(new Set(deliveredTo.map((d) => d.request.manifest.version))).toEqual(new Set([1]));
    // the pulled copy goes once its recipient is served
    await until(async () => (await b.service.context.spool.list()).length === 0);
  });

  it('the origin keeps the copy a recipient pulled before the edit, for its ack', async () => {
    pair = await startPair({ b: { workers: false } });
    const { a, b } = pair;
    b.deliveryAnswer = (req) => req.recipients.map((recipient) => ({ recipient, status: 'deferred' }));
    const v1 = textMessage('alice@a.example', bob, 'v1\r\n');
    const sent = await a.service.outbox.submit({ manifest: v1.manifest, body: v1.body, recipients: [bob] });
    await until(async () => (await atA(a, sent.id))?.state === 'accepted');
    b.startWorkers();
    await until(async () => (await atA(a, sent.id))?.state === 'fetched');
    const v2 = textMessage('alice@a.example', bob, 'v2\r\n', sent.id, 2);
    await a.service.outbox.edit({ manifest: v2.manifest, body: v2.body, recipients: [bob] });
    b.deliveryAnswer = (req) => req.recipients.map((recipient) => ({ recipient, status: 'delivered' }));
    await until(async () => (await atA(a, sent.id))?.state === 'delivered');
    expect(await atA(a, sent.id)).toMatchObject({ version: 1 });
    // acked: the old copy has served its recipient
    await until(async () => !(await a.service.context.spool.has(sent.queueId)));
  });

  it('a pull refused as superseded waits for the new version and delivers it', async () => {
    pair = await startPair({ b: { workers: false } });
    const { a, b } = pair;
    const v1 = textMessage('alice@a.example', bob, 'v1\r\n');
    const sent = await a.service.outbox.submit({ manifest: v1.manifest, body: v1.body, recipients: [bob] });
    await until(async () => (await atA(a, sent.id))?.state === 'accepted');
    // the edit is current at a, but its notice is held until b's pull of version 1 was refused
    await a.workers?.close();
    a.workers = undefined;
    const v2 = textMessage('alice@a.example', bob, 'v2, corrected\r\n', sent.id, 2);
    await a.service.outbox.edit({ manifest: v2.manifest, body: v2.body, recipients: [bob] });
    b.startWorkers();
    const pull = await until(() => b.service.context.queues.queue('pull').getJob(pullJobId('a.example', sent.id, 1)));
    await until(async () => (await pull.getState()) === 'completed');
    a.startWorkers();
    await until(async () => (await atA(a, sent.id))?.state === 'delivered');
    expect(await atA(a, sent.id)).toMatchObject({ version: 2 });
    expect(b.delivered.map((d) => d.parts[0]?.toString())).toEqual(['v2, corrected\r\n']);
  });
});

/** Mail a gateway converted from SMTP (sender outside the origin), to bob and carol. */
function gatewayMessage(text: string, id?: string, version = 1) {
  const msg = textMessage('dan@legacy.example', 'bob@b.example', text, id, version);
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
      received_at: Math.floor(Date.now() / 1000),
      gateway: 'a.example',
    },
  };
  return { manifest, body: msg.body };
}
