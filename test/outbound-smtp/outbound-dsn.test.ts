// DSNs from the outbound stage, through BullMQ and real Redis against smtp-sink peers: to whom
// (never an unauthenticated MX sender), as NOTIFY asks (failures, successes a next hop will not
// report, one delay warning per message), RET and ENVID and ORCPT honoured and passed on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import type { MessageDsn, SenderVerdict, SpoolRecordInput } from '../../src/mail/spool-records.js';
import { testConfig } from '../support/config.js';
import { smtpRecord } from '../support/records.js';
import { testPrefix } from '../support/redis.js';
import { freePort, type Sink, startSink } from '../support/smtp-sink.js';
import { staticResolver } from '../support/static-resolver.js';
import { tempDir } from '../support/tmp.js';
import { eventually, type Harness, outboundHarness } from './harness.js';

const body = (subject: string, filler = '') =>
  `From: alice@good.example\r\nTo: someone@example.net\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@good.example>\r\n\r\nHello, ${subject}.\r\n${filler}`;
const domains = ['good', 'nodsn', 'hard', 'down'] as const;

const verdict = (spf: string): SenderVerdict => ({
  action: 'accept',
  reason: 'DMARC none',
  dmarc: 'none',
  dmarcOverridden: false,
  spf,
  dkim: [],
  fromDomain: 'good.example',
});

/** A submission from alice@good.example (DSNs go to her, at the `good` sink), with DSN parameters. */
function submitted(rcptTo: string[], dsn?: MessageDsn): SpoolRecordInput {
  return {
    ...smtpRecord({
      role: 'submission',
      user: 'alice@good.example',
      envelope: { mailFrom: 'alice@good.example', rcptTo },
    }),
    ...(dsn ? { dsn } : {}),
  };
}

describe('outbound DSNs', () => {
  const ports: Record<string, number> = {};
  const sinks: Record<string, Sink> = {};
  let harness: Harness;
  let config: Config;
  let remove: () => Promise<void>;

  beforeAll(async () => {
    for (const d of domains) ports[d] = await freePort();
    const tmp = await tempDir('outbound-dsn');
    remove = tmp.remove;
    config = testConfig(
      {
        spool: { dir: tmp.dir },
        hostname: 'gw.example.org',
        queues: {
          delay_warning_s: 2,
          outbound: { retry: { initial_delay_s: 1, max_delay_s: 1, lifetime_s: 60, jitter: 0 }, concurrency: 4 },
        },
        outbound: { port_map: Object.fromEntries(domains.map((d) => [`mx.${d}.example`, ports[d]!])) },
      },
      testPrefix(),
    );
    const resolver = staticResolver({
      mx: Object.fromEntries(domains.map((d) => [`${d}.example`, [{ exchange: `mx.${d}.example`, priority: 10 }]])),
      a: Object.fromEntries(domains.map((d) => [`mx.${d}.example`, ['127.0.0.1']])),
    });
    harness = await outboundHarness(config, resolver);
    sinks.good = await startSink({ port: ports.good });
    sinks.nodsn = await startSink({ port: ports.nodsn, flags: ['-N'] });
    sinks.hard = await startSink({
      port: ports.hard,
      flags: ['-f', 'rcpt', '-B', '550 5.1.1 <x>: No such user here (sink)'],
    });
  });
  afterAll(async () => {
    await harness.close();
    await Promise.all(Object.values(sinks).map((s) => s.stop()));
    await remove();
  });

  /** The DSNs about `queueId` that reached the good sink (every DSN here goes to good.example). */
  const dsnsAbout = async (queueId: string) =>
    (await sinks.good!.messages()).filter((m) => m.includes(`X-Mailbridge-Queue-ID: ${queueId}`));
  const queuedDsn = (queueId: string) => harness.logs.find((l) => l.queueId === queueId && l.msg === 'DSN queued');

  it('RET=FULL returns the whole message, with ENVID and ORCPT echoed', async () => {
    const queueId = await harness.submit(
      body('full'),
      submitted(['d@hard.example'], {
        ret: 'FULL',
        envid: 'ENV-1',
        recipients: { 'd@hard.example': { notify: ['FAILURE'], orcpt: 'rfc822;D@old.example' } },
      }),
    );
    await harness.finished(queueId);
    const [dsn] = await eventually(async () =>
      (await dsnsAbout(queueId)).length > 0 ? dsnsAbout(queueId) : undefined,
    );
    expect(dsn).toContain('Subject: Undelivered Mail Returned to Sender');
    expect(dsn).toMatch(/^Original-Envelope-Id: ENV-1$/m);
    expect(dsn).toContain(
      'Original-Recipient: rfc822;D@old.example\nFinal-Recipient: rfc822; d@hard.example\nAction: failed\nStatus: 5.1.1\n',
    );
    expect(dsn).toContain('Content-Type: message/rfc822');
    expect(dsn).toContain('Hello, full.');
    expect(dsn).not.toContain('text/rfc822-headers');
  });

  it('RET=FULL of a message above the limit returns its header section only, like Postfix', async () => {
    const queueId = await harness.submit(
      body('big', `${'x'.repeat(998)}\r\n`.repeat(60)),
      submitted(['d@hard.example'], { ret: 'FULL' }),
    );
    await harness.finished(queueId);
    const [dsn] = await eventually(async () =>
      (await dsnsAbout(queueId)).length > 0 ? dsnsAbout(queueId) : undefined,
    );
    expect(dsn).toContain('Content-Type: text/rfc822-headers');
    expect(dsn).toContain('Subject: big');
    expect(dsn).not.toContain('Hello, big.');
  });

  it('sends no DSN for NOTIFY=NEVER, nor a failure DSN for NOTIFY=SUCCESS', async () => {
    for (const notify of [['NEVER'], ['SUCCESS']] as const) {
      const queueId = await harness.submit(
        body(`notify-${notify[0]}`),
        submitted(['d@hard.example'], { recipients: { 'd@hard.example': { notify: [...notify] } } }),
      );
      const job = await harness.finished(queueId);
      expect(await job.getState()).toBe('failed');
      expect(queuedDsn(queueId)).toBeUndefined();
    }
  });

  it('NOTIFY=SUCCESS through a host without DSN: a success DSN with Action relayed', async () => {
    const queueId = await harness.submit(
      body('relayed'),
      submitted(['r@nodsn.example'], { recipients: { 'r@nodsn.example': { notify: ['SUCCESS', 'FAILURE'] } } }),
    );
    expect(await (await harness.finished(queueId)).getState()).toBe('completed');
    const [dsn] = await eventually(async () =>
      (await dsnsAbout(queueId)).length > 0 ? dsnsAbout(queueId) : undefined,
    );
    expect(dsn).toContain('Subject: Successful Mail Delivery Report');
    expect(dsn).toContain(
      `Final-Recipient: rfc822; r@nodsn.example\nAction: relayed\nStatus: 2.0.0\nRemote-MTA: dns; 127.0.0.1:${ports.nodsn}\n`,
    );
    expect((await sinks.nodsn!.messages()).find((m) => m.includes('Subject: relayed'))).toMatch(
      /^X-Rcpt-Args: <r@nodsn\.example>$/m,
    );
  });

  it('NOTIFY=SUCCESS through a host with DSN: the parameters go on, the next host reports', async () => {
    const queueId = await harness.submit(
      body('passed-on'),
      submitted(['p@good.example', 'q@good.example'], {
        ret: 'HDRS',
        envid: 'ENV+2',
        recipients: {
          'p@good.example': { notify: ['SUCCESS'], orcpt: 'rfc822;P@old.example' },
          // an ORCPT that only repeats the recipient, as Postfix sends it
          'q@good.example': { orcpt: 'rfc822;q@good.example' },
        },
      }),
    );
    expect(await (await harness.finished(queueId)).getState()).toBe('completed');
    const copies = (await sinks.good!.messages()).filter((m) => m.includes('Subject: passed-on'));
    expect(copies.map((m) => /^X-Rcpt-Args: (.*)$/m.exec(m)?.[1]).sort()).toEqual([
      '<p@good.example> NOTIFY=SUCCESS ORCPT=rfc822;P@old.example',
      '<q@good.example>',
    ]);
    expect(copies[0]).toMatch(/^X-Mail-Args: <alice@good\.example> .*RET=HDRS ENVID=ENV\+2B2/m);
    expect(queuedDsn(queueId)).toBeUndefined();
  });

  it('MX mail: a DSN to the envelope sender SPF vouched for, none (logged as withheld) when SPF failed', async () => {
    const mx = (mailFrom: string, spf: string, subject: string) =>
      harness.submit(body(subject), {
        ...smtpRecord({ role: 'mx', envelope: { mailFrom, rcptTo: ['m@hard.example'] } }),
        senderAuth: { mode: 'enforce', verdict: verdict(spf) },
      });
    const passed = await mx('bounces@good.example', 'pass', 'spf-pass');
    const failed = await mx('victim@good.example', 'fail', 'spf-fail');
    await harness.finished(passed);
    await harness.finished(failed);
    expect(queuedDsn(passed)).toMatchObject({ to: 'bounces@good.example' });
    await eventually(async () => ((await dsnsAbout(passed)).length > 0 ? true : undefined));
    expect(queuedDsn(failed)).toBeUndefined();
    expect(harness.logs.find((l) => l.queueId === failed && l.msg === 'DSN withheld')).toMatchObject({
      withheld: 'sender not authenticated (SPF fail, DMARC none)',
      recipients: ['m@hard.example'],
    });
    expect(await dsnsAbout(failed)).toEqual([]);
  });

  it('warns once that mail is delayed after queues.delay_warning_s, unless NOTIFY leaves out DELAY', async () => {
    const createdAt = new Date(Date.now() - 3000).toISOString();
    const warned = await harness.submit(body('late'), {
      ...submitted(['w@down.example']),
      createdAt,
    });
    const quiet = await harness.submit(body('late-quiet'), {
      ...submitted(['v@down.example'], { recipients: { 'v@down.example': { notify: ['FAILURE'] } } }),
      createdAt,
    });
    // three tries a second apart: the warning comes with the first and never again
    await eventually(async () => {
      const s = await harness.status.recipient(warned, 'w@down.example');
      return s && s.attempts >= 3 ? s : undefined;
    }, 15_000);
    const dsns = await eventually(async () => ((await dsnsAbout(warned)).length > 0 ? dsnsAbout(warned) : undefined));
    expect(dsns).toHaveLength(1);
    expect(dsns[0]).toContain('Subject: Delayed Mail (still being retried)');
    expect(dsns[0]).toMatch(/^Action: delayed\nStatus: 4\.\d+\.\d+\n/m);
    expect(dsns[0]).toMatch(/^Will-Retry-Until: /m);
    expect(harness.logs.filter((l) => l.queueId === warned && l.msg === 'DSN queued')).toHaveLength(1);
    expect((await harness.status.recipient(quiet, 'v@down.example'))?.attempts).toBeGreaterThanOrEqual(3);
    expect(harness.logs.filter((l) => l.queueId === quiet && l.msg === 'DSN queued')).toEqual([]);
    expect(await dsnsAbout(quiet)).toEqual([]);
  }, 30_000);
});
