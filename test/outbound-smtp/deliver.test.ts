// One message to real smtp-sink peers: per-recipient answers, remote text verbatim, LMTP, failover.
import { Readable } from 'node:stream';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SmtpDelivery } from '../../src/outbound-smtp/deliver.js';
import type { Hop, Route } from '../../src/outbound-smtp/mx-route.js';
import { testConfig } from '../support/config.js';
import { freePort, type Sink, startSink } from '../support/smtp-sink.js';

const message =
  'From: alice@example.org\r\nTo: bob@example.net\r\nSubject: deliver test\r\n\r\nbody line one\r\n.leading dot\r\n';
const open = async () => Readable.from([Buffer.from(message)]);
const envelope = { from: 'alice@example.org', to: ['bob@example.net', 'carol@example.net'] };
const delivery = new SmtpDelivery(testConfig({ spool: { dir: '/tmp/unused' }, hostname: 'gw.example.org' }));
const route = (...hops: Hop[]): Route => ({ domain: 'example.net', kind: 'mx', hops });
const hop = (port: number, protocol: 'smtp' | 'lmtp' = 'smtp'): Hop => ({
  host: '127.0.0.1',
  port,
  protocol,
  mxName: 'mx.example.net',
});

let sinks: Sink[] = [];
async function sink(flags: string[] = []): Promise<Sink> {
  const s = await startSink({ flags });
  sinks.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(sinks.map((s) => s.stop()));
  sinks = [];
});
afterAll(() => delivery.close());

describe('SmtpDelivery', () => {
  it('delivers the bytes unchanged, says HELO with our name, and reports each recipient', async () => {
    const s = await sink();
    const report = await delivery.deliver(route(hop(s.port)), envelope, open);
    expect(report.host).toBe(`127.0.0.1:${s.port}`);
    expect(report.results.map((r) => [r.recipient, r.outcome, r.code])).toEqual([
      ['bob@example.net', 'delivered', 'ok'],
      ['carol@example.net', 'delivered', 'ok'],
    ]);
    expect(report.results[0]!.reply).toMatch(/^250 /);
    const [dump] = await s.messages();
    expect(dump).toContain('X-Helo-Args: gw.example.org');
    expect(dump).toContain('X-Rcpt-Args: <bob@example.net>');
    // smtp-sink writes its dump with LF line ends; the dot-stuffed line must come back whole
    expect(dump).toContain(message.replace(/\r\n/g, '\n'));
  });

  it('sends the null sender as MAIL FROM:<>', async () => {
    const s = await sink();
    const report = await delivery.deliver(route(hop(s.port)), { from: '', to: ['alice@example.net'] }, open);
    expect(report.results[0]!.outcome).toBe('delivered');
    expect((await s.messages())[0]).toMatch(/^X-Mail-Args: <>/m);
  });

  it('reports a 4xx to RCPT as transient with the remote text verbatim', async () => {
    const s = await sink(['-r', 'rcpt', '-b', '452 4.2.2 Mailbox full (sink)']);
    const report = await delivery.deliver(route(hop(s.port)), envelope, open);
    expect(report.results.map((r) => [r.outcome, r.code, r.reply])).toEqual([
      ['transient', 'remote_transient', '452 4.2.2 Mailbox full (sink)'],
      ['transient', 'remote_transient', '452 4.2.2 Mailbox full (sink)'],
    ]);
    expect(await s.messages()).toEqual([]);
  });

  it('reports a 5xx to RCPT as permanent with the remote text verbatim', async () => {
    const s = await sink(['-f', 'rcpt', '-B', '550 5.1.1 No such user (sink)']);
    const report = await delivery.deliver(route(hop(s.port)), envelope, open);
    expect(report.results.every((r) => r.outcome === 'permanent' && r.reply === '550 5.1.1 No such user (sink)')).toBe(
      true,
    );
  });

  it('reports a 5xx after the message as permanent for every recipient', async () => {
    const s = await sink(['-f', '.', '-B', '554 5.7.1 Content rejected (sink)']);
    const report = await delivery.deliver(route(hop(s.port)), envelope, open);
    expect(report.results.map((r) => [r.outcome, r.reply])).toEqual([
      ['permanent', '554 5.7.1 Content rejected (sink)'],
      ['permanent', '554 5.7.1 Content rejected (sink)'],
    ]);
  });

  it('treats 421 as transient', async () => {
    const s = await sink(['-Q', 'mail']);
    const report = await delivery.deliver(route(hop(s.port)), envelope, open);
    expect(report.results.every((r) => r.outcome === 'transient' && r.reply.startsWith('421'))).toBe(true);
  });

  it('moves on to the next host when one refuses the connection', async () => {
    const closed = await freePort();
    const s = await sink();
    const report = await delivery.deliver(route(hop(closed), hop(s.port)), envelope, open);
    expect(report.host).toBe(`127.0.0.1:${s.port}`);
    expect(report.results.every((r) => r.outcome === 'delivered')).toBe(true);
    expect(await s.messages()).toHaveLength(1);
  });

  it('reports a connection failure on every host as transient', async () => {
    const report = await delivery.deliver(route(hop(await freePort())), envelope, open);
    expect(report.results.map((r) => [r.outcome, r.code])).toEqual([
      ['transient', 'connection_failed'],
      ['transient', 'connection_failed'],
    ]);
    expect(report.results[0]!.reply).toContain('ECONNREFUSED');
  });

  it('will not send in clear text where TLS is required, except to our own mailbox hosts', async () => {
    const s = await sink();
    const strict = new SmtpDelivery(testConfig({ spool: { dir: '/tmp/unused' }, outbound: { require_tls: true } }));
    try {
      const refused = await strict.deliver(route(hop(s.port)), envelope, open);
      // smtp-sink offers no STARTTLS and answers it with 500: still our policy, so transient
      expect(refused.results.map((r) => [r.outcome, r.code, r.reply])).toEqual(
        envelope.to.map(() => ['transient', 'connection_failed', 'STARTTLS failed: 500 5.5.1 Error: unknown command']),
      );
      const enforced = await delivery.deliver(route(hop(s.port)), envelope, open, { verifyTls: true });
      expect(enforced.results.every((r) => r.outcome === 'transient')).toBe(true);
      expect(await s.messages()).toEqual([]);
      const local = await strict.deliver(
        { domain: 'corp.example', kind: 'local', hops: [{ host: '127.0.0.1', port: s.port, protocol: 'smtp' }] },
        envelope,
        open,
      );
      expect(local.results.every((r) => r.outcome === 'delivered')).toBe(true);
    } finally {
      strict.close();
    }
  });

  it('speaks LMTP to an LMTP hop', async () => {
    const s = await sink(['-L']);
    const report = await delivery.deliver(
      { domain: 'corp.example', kind: 'local', hops: [{ host: '127.0.0.1', port: s.port, protocol: 'lmtp' }] },
      envelope,
      open,
    );
    expect(report.results.every((r) => r.outcome === 'delivered')).toBe(true);
    expect((await s.messages())[0]).toContain('X-Client-Proto: LMTP');
  });
});
