// One gateway answering PMTP/1 for two domains on one listener and one endpoint: a.example (pmtp.domain)
// and c.example (domains.settings with its own key). A real peer, b.example, talks to both.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDomainKey, verifyKeySet } from '../../../src/native/protocol/domain-keys.js';
import { PATHS } from '../../../src/native/protocol/endpoints.js';
import { freePort } from '../../support/smtp-sink.js';
import { type PmtpNode, startNode, textMessage, until } from './harness.js';

describe('many domains on one PMTP gateway', () => {
  const cKey = generateDomainKey();
  let gateway: PmtpNode;
  let peer: PmtpNode;

  beforeAll(async () => {
    const [pg, pb] = [await freePort(), await freePort()];
    gateway = await startNode({
      domain: 'a.example',
      port: pg,
      peers: { 'b.example': { endpoint: `http://127.0.0.1:${pb}` } },
      domains: {
        'c.example': { key: cKey, settings: { first_contact: { default: 'allow', deny: ['denied@b.example'] } } },
        'small.example': { key: generateDomainKey(), settings: { max_message_bytes: 16 } },
      },
    });
    peer = await startNode({
      domain: 'b.example',
      port: pb,
      // both of the gateway's domains at the one endpoint, as `_pmtp` records would say
      peers: {
        'a.example': { endpoint: gateway.endpoint },
        'c.example': { endpoint: gateway.endpoint },
        'small.example': { endpoint: gateway.endpoint },
      },
      // strangers are refused; only senders their own origin authenticates can be allowlisted
      firstContact: { default: 'deny', allow: ['a.example', 'c.example'] },
    });
  });
  afterAll(async () => {
    await peer?.close();
    await gateway?.close();
  });

  it("serves each domain's own self-signed key set at the shared endpoint", async () => {
    const fetchSet = async (domain: string) =>
      (await fetch(`${gateway.endpoint}${PATHS.keys}?domain=${domain}`)).json() as Promise<unknown>;
    const c = verifyKeySet(await fetchSet('c.example'), { domain: 'c.example', now: Math.floor(Date.now() / 1000) });
    const a = verifyKeySet(await fetchSet('a.example'), { domain: 'a.example', now: Math.floor(Date.now() / 1000) });
    expect(c.ok && c.value.keys.map((k) => k.key_id)).toEqual([cKey.keyId]);
    expect(a.ok && a.value.keys.map((k) => k.key_id)).toEqual([gateway.key.keyId]);
  });

  it("answers server information per domain: each domain's own size limit", async () => {
    const info = async (query: string) =>
      ((await (await fetch(`${gateway.endpoint}${PATHS.server}${query}`)).json()) as { max_message_bytes: number })
        .max_message_bytes;
    expect(await info('?domain=small.example')).toBe(16);
    expect(await info('?domain=a.example')).toBe(gateway.config.limits.message_size_bytes);
    expect(await info('')).toBe(gateway.config.limits.message_size_bytes);
  });

  it("originates each domain's authors with that domain's key: the peer authenticates both", async () => {
    for (const [from, origin] of [
      ['carol@c.example', 'c.example'],
      ['alice@a.example', 'a.example'],
    ] as const) {
      const msg = textMessage(from, 'bob@b.example', `from ${from}\r\n`);
      const sent = await gateway.service.outbox.submit({
        manifest: msg.manifest,
        body: msg.body,
        recipients: ['bob@b.example'],
      });
      // accepted (allowlisted: only an authenticated sender can be), pulled and acked end to end
      await until(async () => (await gateway.service.context.status.get(sent.id))[0]?.state === 'delivered');
      const stored = await peer.service.context.inbound.recipient(origin, sent.id, 'bob@b.example');
      expect(stored).toMatchObject({ state: 'delivered', trust: 'allowlisted' });
      const delivered = peer.delivered.find((d) => d.request.manifest.id === sent.id);
      expect(delivered?.request.origin).toBe(origin);
      expect(delivered?.request.signatures.find((s) => s.role === 'origin')?.domain).toBe(origin);
    }
  });

  it('takes mail for each domain under its own identity and policy', async () => {
    const send = async (to: string, from = 'bob@b.example') => {
      const msg = textMessage(from, to, `to ${to}\r\n`);
      const sent = await peer.service.outbox.submit({ manifest: msg.manifest, body: msg.body, recipients: [to] });
      return until(async () => {
        const s = (await peer.service.context.status.get(sent.id))[0];
        return s && ['delivered', 'rejected'].includes(s.state) ? { ...s, id: sent.id } : undefined;
      });
    };
    // c.example's notice reaches c.example's app; its pull and ack are signed as c.example
    const toCarol = await send('carol@c.example');
    expect(toCarol.state).toBe('delivered');
    expect(gateway.delivered.find((d) => d.request.manifest.id === toCarol.id)?.request.recipients).toEqual([
      'carol@c.example',
    ]);
    // c.example's own deny list, which a.example does not have
    expect(await send('carol@c.example', 'denied@b.example')).toMatchObject({ state: 'rejected' });
    expect(await send('alice@a.example', 'denied@b.example')).toMatchObject({ state: 'delivered' });
    // small.example's own size limit (16 bytes) refuses what a.example takes
    expect(await send('x@small.example')).toMatchObject({ state: 'rejected', code: 'message_too_large' });
  });

  it('one message id to recipients in two of our domains: each domain acks its own recipients', async () => {
    const sendBoth = async (from: string) => {
      const to = ['alice@a.example', 'carol@c.example'];
      const msg = textMessage(from, to[0]!, 'to both\r\n');
      const sent = await peer.service.outbox.submit({ manifest: msg.manifest, body: msg.body, recipients: to });
      const states = await until(async () => {
        const all = await peer.service.context.status.get(sent.id);
        return all.length === 2 && all.every((s) => ['delivered', 'rejected'].includes(s.state)) ? all : undefined;
      });
      return { id: sent.id, states: Object.fromEntries(states.map((s) => [s.recipient, s.state])) };
    };
    // both accepted: one pull, and the origin records both acks (each signed by its recipient's domain)
    const both = await sendBoth('bob@b.example');
    expect(both.states).toEqual({ 'alice@a.example': 'delivered', 'carol@c.example': 'delivered' });
    expect(
      gateway.delivered
        .filter((d) => d.request.manifest.id === both.id)
        .flatMap((d) => d.request.recipients)
        .sort(),
    ).toEqual(['alice@a.example', 'carol@c.example']);
    // c.example refuses this sender, a.example takes it: the pull must not run as c.example alone
    const split = await sendBoth('denied@b.example');
    expect(split.states).toEqual({ 'alice@a.example': 'delivered', 'carol@c.example': 'rejected' });
  });
});
