// LMTP delivery to a real Debian Dovecot (dovecot-lmtpd) through the outbound worker on a real
// Redis: one reply per recipient after DATA (one delivered, one unknown user), a user over quota
// (552 5.2.2: failed at once with a DSN; 452 4.2.2 under quota_full_tempfail: retried until there is room).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { testConfig } from '../support/config.js';
import { dovecotMissing, type PrivateDovecot, startDovecot } from '../support/dovecot.js';
import { smtpRecord } from '../support/records.js';
import { testPrefix } from '../support/redis.js';
import { freePort, type Sink, startSink } from '../support/smtp-sink.js';
import { staticResolver } from '../support/static-resolver.js';
import { tempDir } from '../support/tmp.js';
import { eventually, type Harness, outboundHarness } from './harness.js';

const skip = dovecotMissing();
const body = (subject: string) =>
  `From: sender@good.example\r\nTo: team@corp.test\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@good.example>\r\n\r\nHello Dovecot.\r\n`;

describe.skipIf(skip)(`LMTP delivery to Dovecot${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let dovecot: PrivateDovecot;
  let tempfail: PrivateDovecot;
  let sink: Sink;
  let harness: Harness;
  let remove: () => Promise<void>;

  const submitted = (subject: string, domain: string, rcptTo: string[]) =>
    harness.submit(
      body(subject),
      smtpRecord({
        role: 'submission',
        user: 'sender@good.example',
        envelope: { mailFrom: 'sender@good.example', rcptTo },
        routes: rcptTo.map((rcpt) => ({ rcpt, kind: 'postfix' as const, domain })),
      }),
    );
  const dsnFor = async (queueId: string): Promise<string> =>
    eventually(async () => (await sink.messages()).find((m) => m.includes(`X-Mailbridge-Queue-ID: ${queueId}`)));

  beforeAll(async () => {
    const users = [
      { user: 'alice@corp.test', password: '{PLAIN}a' },
      { user: 'bob@corp.test', password: '{PLAIN}b', quota: '*:messages=1' },
    ];
    dovecot = await startDovecot(users);
    tempfail = await startDovecot([{ user: 'carol@full.test', password: '{PLAIN}c', quota: '*:messages=1' }], {
      quotaTempfail: true,
    });
    const sinkPort = await freePort();
    sink = await startSink({ port: sinkPort });
    const tmp = await tempDir('lmtp');
    remove = tmp.remove;
    const config: Config = testConfig(
      {
        spool: { dir: tmp.dir },
        hostname: 'gw.example.org',
        queues: { outbound: { retry: { initial_delay_s: 1, max_delay_s: 1, lifetime_s: 120, jitter: 0 } } },
        domains: {
          postfix: {
            'corp.test': { host: '127.0.0.1', port: dovecot.lmtpPort, protocol: 'lmtp' },
            'full.test': { host: '127.0.0.1', port: tempfail.lmtpPort, protocol: 'lmtp' },
          },
        },
        outbound: { port_map: { 'mx.good.example': sinkPort } },
      },
      testPrefix(),
    );
    const resolver = staticResolver({
      mx: { 'good.example': [{ exchange: 'mx.good.example', priority: 10 }] },
      a: { 'mx.good.example': ['127.0.0.1'] },
    });
    harness = await outboundHarness(config, resolver);
  }, 30_000);

  afterAll(async () => {
    await harness?.close();
    await sink?.stop();
    await dovecot?.stop();
    await tempfail?.stop();
    await remove?.();
  });

  it("takes each recipient's own LMTP reply: alice delivered into her Maildir, ghost failed with a DSN", async () => {
    const queueId = await submitted('two-rcpts', 'corp.test', ['alice@corp.test', 'ghost@corp.test']);
    await harness.finished(queueId);
    expect(await dovecot.delivered('alice@corp.test')).toHaveLength(1);
    expect(await harness.status.recipient(queueId, 'alice@corp.test')).toMatchObject({
      state: 'delivered',
      attempts: 1,
    });
    const ghost = await harness.status.recipient(queueId, 'ghost@corp.test');
    expect(ghost).toMatchObject({ state: 'failed', attempts: 1 });
    expect(ghost?.reply).toMatch(/^550 5\.1\.1 .*User doesn't exist/);
    const dsn = await dsnFor(queueId);
    expect(dsn).toMatch(/^X-Rcpt-Args: <sender@good\.example>/m);
    expect(dsn).toMatch(/Final-Recipient: rfc822; ?ghost@corp\.test/);
    expect(dsn).toMatch(/Diagnostic-Code: smtp; 550 5\.1\.1 .*User doesn't exist/);
    expect(dsn).not.toMatch(/Final-Recipient: rfc822; ?alice@corp\.test/);
  });

  it('fails a user over quota (552 5.2.2 after DATA) at once and tells the sender, without a retry', async () => {
    const first = await submitted('bob-1', 'corp.test', ['bob@corp.test']);
    await harness.finished(first);
    expect(await harness.status.recipient(first, 'bob@corp.test')).toMatchObject({ state: 'delivered' });
    const second = await submitted('bob-2', 'corp.test', ['bob@corp.test']);
    const job = await harness.finished(second);
    expect(await job.getState()).toBe('failed');
    const bob = await harness.status.recipient(second, 'bob@corp.test');
    expect(bob).toMatchObject({ state: 'failed', attempts: 1 });
    expect(bob?.reply).toMatch(/^552 5\.2\.2 .*Quota exceeded/);
    expect(await dsnFor(second)).toMatch(/Diagnostic-Code: smtp; 552 5\.2\.2 .*Quota exceeded/);
    expect(await dovecot.delivered('bob@corp.test')).toHaveLength(1);
  });

  it('retries a full mailbox that answers 452 4.2.2 and delivers once the user has made room', async () => {
    const first = await submitted('carol-1', 'full.test', ['carol@full.test']);
    await harness.finished(first);
    const second = await submitted('carol-2', 'full.test', ['carol@full.test']);
    const deferred = await eventually(async () => {
      const status = await harness.status.recipient(second, 'carol@full.test');
      return status?.state === 'deferred' ? status : undefined;
    });
    expect(deferred.reply).toMatch(/^452 4\.2\.2 .*Quota exceeded/);
    await tempfail.makeRoom('carol@full.test');
    const job = await harness.finished(second, 30_000);
    expect(await job.getState()).toBe('completed');
    const carol = await harness.status.recipient(second, 'carol@full.test');
    expect(carol).toMatchObject({ state: 'delivered' });
    expect(carol?.attempts).toBeGreaterThan(1);
    expect(await tempfail.delivered('carol@full.test')).toHaveLength(1);
  });
});
