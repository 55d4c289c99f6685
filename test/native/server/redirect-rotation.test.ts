// Key rotation (mail signed with a retired key verifies until that key's expiry) and gateway mail
// deferred until the recipient has checked its provenance. Redirects: scoped-delegation.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildKeyRing } from '../../../src/native/keys/local-keys.js';
import { generateDomainKey } from '../../../src/native/protocol/domain-keys.js';
import { manifestDigest } from '../../../src/native/protocol/message-format.js';
import { signManifest } from '../../../src/native/protocol/message-signature.js';
import { freePort } from '../../support/smtp-sink.js';
import { type PmtpNode, startNode, textMessage, until } from './harness.js';

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
