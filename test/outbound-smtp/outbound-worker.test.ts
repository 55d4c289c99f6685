// The outbound worker through BullMQ and real Redis against smtp-sink peers: retries only what
// was deferred, never re-sends, fails 5xx and null MX at once, expires what never got through.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { testConfig } from '../support/config.js';
import { pulledForPostfixRecord, smtpRecord } from '../support/records.js';
import { testPrefix } from '../support/redis.js';
import { freePort, type Sink, startSink } from '../support/smtp-sink.js';
import { staticResolver } from '../support/static-resolver.js';
import { tempDir } from '../support/tmp.js';
import { eventually, type Harness, outboundHarness } from './harness.js';

const body = (subject: string) =>
  `From: alice@example.org\r\nTo: someone@example.net\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@example.org>\r\n\r\nHello.\r\n`;
const domains = ['good', 'flaky', 'hard', 'down'] as const;

describe('outbound worker', () => {
  const ports: Record<string, number> = {};
  const sinks: Sink[] = [];
  let harness: Harness;
  let config: Config;
  let remove: () => Promise<void>;

  beforeAll(async () => {
    for (const d of domains) ports[d] = await freePort();
    const tmp = await tempDir('outbound');
    remove = tmp.remove;
    config = testConfig(
      {
        spool: { dir: tmp.dir },
        hostname: 'gw.example.org',
        queues: {
          outbound: { retry: { initial_delay_s: 1, max_delay_s: 1, lifetime_s: 60, jitter: 0 }, concurrency: 4 },
        },
        outbound: { port_map: Object.fromEntries(domains.map((d) => [`mx.${d}.example`, ports[d]!])) },
      },
      testPrefix(),
    );
    const resolver = staticResolver({
      mx: {
        ...Object.fromEntries(domains.map((d) => [`${d}.example`, [{ exchange: `mx.${d}.example`, priority: 10 }]])),
        'nullmx.example': [{ exchange: '', priority: 0 }],
        'sts.example': [{ exchange: 'mx.good.example', priority: 10 }],
      },
      a: Object.fromEntries(domains.map((d) => [`mx.${d}.example`, ['127.0.0.1']])),
      txt: { '_mta-sts.sts.example': [['v=STSv1; id=1']] },
    });
    const policy = 'version: STSv1\nmode: enforce\nmx: mx.sts.example\nmax_age: 86400\n';
    harness = await outboundHarness(config, resolver, {
      policyFetcher: async (domain) => (domain === 'sts.example' ? policy : false),
    });
    sinks.push(await startSink({ port: ports.good }));
    sinks.push(
      await startSink({ port: ports.hard, flags: ['-f', 'rcpt', '-B', '550 5.1.1 <x>: No such user here (sink)'] }),
    );
  });
  afterAll(async () => {
    await harness.close();
    await Promise.all(sinks.map((s) => s.stop()));
    await remove();
  });

  it('delivers after a 4xx once the peer recovers, exactly once per recipient', async () => {
    const flaky = await startSink({ port: ports.flaky, flags: ['-r', 'rcpt', '-b', '452 4.2.2 Mailbox full (sink)'] });
    const goodBefore = (await sinks[0]!.messages()).length;
    const queueId = await harness.submit(
      body('recovery'),
      smtpRecord({
        role: 'mx',
        envelope: { mailFrom: 'alice@example.org', rcptTo: ['a@good.example', 'b@flaky.example'] },
      }),
    );
    const deferred = await eventually(async () => {
      const s = await harness.status.recipient(queueId, 'b@flaky.example');
      return s?.state === 'deferred' ? s : undefined;
    });
    expect(deferred).toMatchObject({
      attempts: 1,
      reply: '452 4.2.2 Mailbox full (sink)',
      host: `127.0.0.1:${ports.flaky}`,
    });
    await flaky.stop();
    const recovered = await startSink({ port: ports.flaky });
    sinks.push(recovered);

    const job = await harness.finished(queueId);
    expect(await job.getState()).toBe('completed');
    expect(job.returnvalue).toEqual({ delivered: 1, failed: 0, expired: 0 });
    expect(job.data).toMatchObject({ queueId, recipients: [] });
    const goodMessages = (await sinks[0]!.messages()).slice(goodBefore);
    expect(goodMessages.filter((m) => m.includes('Subject: recovery'))).toHaveLength(1);
    expect((await recovered.messages()).filter((m) => m.includes('Subject: recovery'))).toHaveLength(1);
    const status = await harness.status.get(queueId);
    expect(status.map((s) => [s.recipient, s.state, s.attempts])).toEqual([
      ['a@good.example', 'delivered', 1],
      ['b@flaky.example', 'delivered', 2],
    ]);
    expect(await harness.spool.has(queueId)).toBe(false);
    // one log line per attempt, naming the queue id, the remote host and its reply
    const attempts = harness.logs.filter((l) => l.queueId === queueId && l.msg === 'delivery attempt');
    expect(attempts.length).toBeGreaterThanOrEqual(3);
    expect(attempts).toContainEqual(
      expect.objectContaining({ host: `127.0.0.1:${ports.flaky}`, reply: '452 4.2.2 Mailbox full (sink)' }),
    );
  });

  it('puts the trace fields src/inbound-smtp made on top of SMTP-born mail, in order', async () => {
    const queueId = await harness.submit(
      body('trace'),
      smtpRecord({ role: 'mx', envelope: { mailFrom: 'alice@example.org', rcptTo: ['t@good.example'] } }),
    );
    await harness.finished(queueId);
    const dump = (await sinks[0]!.messages()).find((m) => m.includes('Subject: trace'))!;
    const ours = dump.slice(dump.indexOf('Authentication-Results: gw.example.org'));
    expect(
      ours.startsWith(
        'Authentication-Results: gw.example.org; spf=none smtp.mailfrom=example.org\nReceived: from client.example ([127.0.0.1])\n\tby gw.example.org (mailbridge) with ESMTP id INBOUND;\n\tTue, 02 Jan 2024 03:04:05 +0000\nFrom: alice@example.org\n',
      ),
    ).toBe(true);
    expect(dump.match(/\(mailbridge\)/g)).toHaveLength(1);
  });

  it('adds our own Received with the queue id to mail that did not come over SMTP', async () => {
    const queueId = await harness.submit(
      body('pmtp-born'),
      pulledForPostfixRecord({ mailFrom: 'alice@example.org', rcptTo: ['p@good.example'] }),
    );
    await harness.finished(queueId);
    const dump = (await sinks[0]!.messages()).find((m) => m.includes('Subject: pmtp-born'))!;
    expect(dump).toMatch(
      new RegExp(
        `\\nReceived: by gw\\.example\\.org \\(mailbridge\\) with PMTP id ${queueId}\\n\\tfor <p@good\\.example>;\\n\\t.+\\nFrom: alice@example\\.org\\n`,
      ),
    );
  });

  it('ends a 5xx as failed with the remote text, without a retry or a DSN for MX mail no check vouched for', async () => {
    const queueId = await harness.submit(
      body('hard'),
      smtpRecord({ role: 'mx', envelope: { mailFrom: 'someone@example.com', rcptTo: ['c@hard.example'] } }),
    );
    const job = await harness.finished(queueId);
    expect(await job.getState()).toBe('failed');
    expect(job.attemptsMade).toBe(1);
    expect(job.failedReason).toContain('550 5.1.1 <x>: No such user here (sink)');
    expect(await harness.status.recipient(queueId, 'c@hard.example')).toMatchObject({
      state: 'failed',
      attempts: 1,
      reply: '550 5.1.1 <x>: No such user here (sink)',
    });
    expect(await harness.spool.has(queueId)).toBe(false);
    expect(harness.logs.filter((l) => l.queueId === queueId && l.msg === 'DSN queued')).toEqual([]);
  });

  it('sends a DSN for a 5xx only to the authenticated submitter, from <>, as new queued mail', async () => {
    const queueId = await harness.submit(
      body('hard-auth'),
      smtpRecord({
        role: 'submission',
        user: 'alice@good.example',
        envelope: { mailFrom: 'forged@example.com', rcptTo: ['d@hard.example'] },
      }),
    );
    await harness.finished(queueId);
    const queued = harness.logs.find((l) => l.queueId === queueId && l.msg === 'DSN queued');
    expect(queued).toMatchObject({ to: 'alice@good.example' });
    const dsnJob = await harness.finished(queued!.dsnQueueId as string);
    expect(await dsnJob.getState()).toBe('completed');
    const dsn = (await sinks[0]!.messages()).find((m) => m.includes(`X-Mailbridge-Queue-ID: ${queueId}`))!;
    expect(dsn).toMatch(/^X-Mail-Args: <>/m);
    expect(dsn).toMatch(/^X-Rcpt-Args: <alice@good\.example>/m);
    expect(dsn).toContain('Diagnostic-Code: smtp; 550 5.1.1 <x>: No such user here (sink)');
    expect(dsn).toContain('Subject: hard-auth');
  });

  it('fails a null MX domain at once, without a retry', async () => {
    const queueId = await harness.submit(
      body('nullmx'),
      smtpRecord({ role: 'mx', envelope: { mailFrom: 'alice@example.org', rcptTo: ['e@nullmx.example'] } }),
    );
    const job = await harness.finished(queueId);
    expect(await job.getState()).toBe('failed');
    expect(job.attemptsMade).toBe(1);
    expect(await harness.status.recipient(queueId, 'e@nullmx.example')).toMatchObject({
      state: 'failed',
      code: 'null_mx',
    });
  });

  it('holds back mail an MTA-STS enforce policy forbids to send to that MX, as a deferral', async () => {
    const before = (await sinks[0]!.messages()).length;
    const queueId = await harness.submit(
      body('sts'),
      smtpRecord({ role: 'mx', envelope: { mailFrom: 'alice@example.org', rcptTo: ['g@sts.example'] } }),
    );
    const status = await eventually(async () => {
      const s = await harness.status.recipient(queueId, 'g@sts.example');
      return s?.state === 'deferred' ? s : undefined;
    });
    expect(status).toMatchObject({
      code: 'mta_sts_mismatch',
      reply: 'MTA-STS policy of sts.example names none of: mx.good.example',
    });
    expect(await sinks[0]!.messages()).toHaveLength(before);
  });

  it('retries an unreachable MX until the lifetime is over, then expires it', async () => {
    // arrived 57.5 s ago with a 60 s lifetime: tries at about 57.5, 58.5 and 59.5 s, then expires
    const createdAt = new Date(Date.now() - 57_500).toISOString();
    const queueId = await harness.submit(
      body('down'),
      smtpRecord({ role: 'mx', createdAt, envelope: { mailFrom: 'alice@example.org', rcptTo: ['f@down.example'] } }),
    );
    const job = await harness.finished(queueId);
    expect(await job.getState()).toBe('failed');
    expect(job.attemptsMade).toBeGreaterThanOrEqual(2);
    const status = await harness.status.recipient(queueId, 'f@down.example');
    expect(status?.state).toBe('expired');
    expect(status?.attempts).toBeGreaterThanOrEqual(2);
    expect(status?.reply).toContain('ECONNREFUSED');
    expect(await harness.spool.has(queueId)).toBe(false);
  });
});
