// Redirects (a delegate that proves it acts for the recipient domain is followed; an impostor is
// refused), key rotation (mail signed with a retired key verifies until that key's expiry), and
// gateway mail deferred until the recipient has checked its provenance.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildKeyRing } from '../../../src/native/keys/local-keys.js';
import { signDelegation } from '../../../src/native/protocol/delegation.js';
import { generateDomainKey } from '../../../src/native/protocol/domain-keys.js';
import { manifestDigest } from '../../../src/native/protocol/message-format.js';
import { signManifest } from '../../../src/native/protocol/message-signature.js';
import { applyDisposition } from '../../../src/native/workers/notice-outcomes.js';
import { freePort } from '../../support/smtp-sink.js';
import { type PmtpNode, startNode, textMessage, until } from './harness.js';

describe('redirects', () => {
  let a: PmtpNode;
  let b: PmtpNode;
  let delegate: PmtpNode;
  beforeAll(async () => {
    const [pa, pb, pd] = [await freePort(), await freePort(), await freePort()];
    const peersOfB = { 'a.example': { endpoint: `http://127.0.0.1:${pa}` } };
    a = await startNode({
      domain: 'a.example',
      port: pa,
      peers: { 'b.example': { endpoint: `http://127.0.0.1:${pb}` } },
    });
    b = await startNode({
      domain: 'b.example',
      port: pb,
      peers: peersOfB,
      pmtp: { redirects: [{ recipient: 'bob@b.example', endpoint: `http://127.0.0.1:${pd}` }] },
    });
    // bob's own server: acts for b.example with a key in b.example's key set
    delegate = await startNode({
      domain: 'b.example',
      port: pd,
      peers: peersOfB,
      keyFile: path.join(path.dirname(b.config.pmtp.key_file!), 'pmtp.key'),
    });
  });
  afterAll(async () => Promise.all([a?.close(), b?.close(), delegate?.close()]));

  it('follows a redirect to a proven delegate, which pulls and acks', async () => {
    const msg = textMessage('alice@a.example', 'bob@b.example', 'to your laptop\r\n');
    const sent = await a.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['bob@b.example'],
    });
    await until(async () => (await a.service.context.status.get(sent.id))[0]?.state === 'delivered');
    expect(b.delivered).toHaveLength(0);
    expect(delegate.delivered.map((d) => d.request.manifest.id)).toEqual([sent.id]);
  });

  it('refuses a redirect to an impostor endpoint', async () => {
    const msg = textMessage('alice@a.example', 'eve@b.example', 'x\r\n');
    const sent = await a.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['eve@b.example'],
    });
    await until(async () => (await a.service.context.status.get(sent.id))[0]?.state === 'delivered');
    const rt = a.service.context;
    const added: string[] = [];
    const spyRt = {
      ...rt,
      queues: { add: async (_q: string, _d: unknown, o: { jobId: string }) => void added.push(o.jobId) },
    } as unknown as typeof rt;
    // a second recipient of the same message, not yet decided, receives a forged redirect
    await rt.status.notified(sent.id, 1, { 'b.example': ['mallory@b.example'] }, rt.nowS());
    const forged = signDelegation({
      domain: 'b.example',
      recipient: 'mallory@b.example',
      endpoint: 'https://evil.example',
      expires: rt.nowS() + 60,
      privateKey: generateDomainKey().privateKey,
    });
    const ctx = {
      rt: spyRt,
      job: { action: 'notify' as const, queueId: sent.queueId, domain: 'b.example' },
      id: sent.id,
      version: 1,
      sender: 'alice@a.example',
      endpoint: b.endpoint,
    };
    await applyDisposition(ctx, 'mallory@b.example', {
      disposition: 'redirect',
      endpoint: 'https://evil.example',
      delegation: forged,
    });
    expect(added).toEqual([]);
    expect(await rt.status.recipient(sent.id, 'mallory@b.example')).toMatchObject({
      state: 'rejected',
      code: 'delegation_invalid',
    });
  });
});

describe('key rotation', () => {
  let a: PmtpNode;
  let b: PmtpNode;
  const oldKey = generateDomainKey();
  const newKey = generateDomainKey();
  const now = Math.floor(Date.now() / 1000);
  beforeAll(async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    const ring = buildKeyRing('a.example', newKey, [{ ...oldKey, expiredAt: now - 100 }], 30);
    a = await startNode({
      domain: 'a.example',
      port: pa,
      key: newKey,
      keyRing: ring,
      peers: { 'b.example': { endpoint: `http://127.0.0.1:${pb}` } },
    });
    b = await startNode({
      domain: 'b.example',
      port: pb,
      peers: { 'a.example': { endpoint: `http://127.0.0.1:${pa}` } },
    });
  });
  afterAll(async () => Promise.all([a?.close(), b?.close()]));

  async function sendSignedByOldKey(created: number) {
    const msg = textMessage('alice@a.example', 'bob@b.example', `signed at ${created}\r\n`);
    const digest = manifestDigest(msg.manifest);
    const signature = signManifest({
      manifestDigest: digest,
      previous: [],
      role: 'origin',
      domain: 'a.example',
      keyId: oldKey.keyId,
      privateKey: oldKey.privateKey,
      created,
    });
    const sent = await a.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['bob@b.example'],
      signatures: [signature],
    });
    return until(async () => {
      const s = (await a.service.context.status.get(sent.id))[0];
      return s && (s.state === 'delivered' || s.state === 'rejected') ? s : undefined;
    });
  }

  it('verifies mail signed with the retired key before it expired, and refuses it after', async () => {
    expect((await sendSignedByOldKey(now - 200)).state).toBe('delivered');
    const late = await sendSignedByOldKey(now - 50);
    expect(late).toMatchObject({ state: 'rejected', code: 'message_invalid' });
    expect(late.text).toContain('unknown_key');
  });
});

describe.each([
  { trusted: true, trust: 'new-verified' },
  { trusted: false, trust: 'challenged' },
])('gateway mail, gateway trusted: $trusted', ({ trusted, trust }) => {
  let a: PmtpNode;
  let b: PmtpNode;
  beforeAll(async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    a = await startNode({
      domain: 'a.example',
      port: pa,
      peers: { 'b.example': { endpoint: `http://127.0.0.1:${pb}` } },
    });
    // b's workers start once a has seen the deferral, so the order below is deterministic
    b = await startNode({
      domain: 'b.example',
      port: pb,
      peers: { 'a.example': { endpoint: `http://127.0.0.1:${pa}` } },
      pmtp: { defer_min_poll_s: 1, defer_max_poll_s: 30, trusted_gateways: trusted ? ['a.example'] : [] },
      workers: false,
    });
  });
  afterAll(async () => Promise.all([a?.close(), b?.close()]));

  // an untrusted gateway's DMARC pass is its word only: the sender must answer a challenge instead
  it(`is deferred, then accepted as ${trust}`, async () => {
    const msg = textMessage('carol@legacy.example', 'bob@b.example', 'from SMTP\r\n');
    const manifest = {
      ...msg.manifest,
      provenance: {
        spf: { result: 'pass' as const, domain: 'legacy.example' },
        dkim: [{ result: 'pass' as const, domain: 'legacy.example', selector: 's1' }],
        dmarc: { result: 'pass' as const, domain: 'legacy.example' },
        arc: { result: 'none' as const },
        client_ip: '192.0.2.10',
        helo: 'mail.legacy.example',
        mail_from: 'carol@legacy.example',
        rcpt_to: ['bob@b.example'],
        received_at: now(),
        gateway: 'a.example',
      },
    };
    const sent = await a.service.outbox.submit({ manifest, body: msg.body, recipients: ['bob@b.example'] });
    await until(async () => (await a.service.context.status.get(sent.id))[0]?.state === 'deferred');
    // what `mailbridge status` shows: when we ask again, within the window the recipient server gave
    const waiting = (await a.service.context.status.get(sent.id))[0]!;
    expect(waiting.nextPollAt).toBeGreaterThanOrEqual(waiting.updatedAt);
    expect(waiting.pollUntil).toBeGreaterThanOrEqual(waiting.nextPollAt!);
    b.startWorkers();
    await until(async () => (await a.service.context.status.get(sent.id))[0]?.state === 'delivered', 20_000);
    expect(b.delivered.at(-1)?.request.trustClass).toBe(trust);
  });
});

function now(): number {
  return Math.floor(Date.now() / 1000);
}
