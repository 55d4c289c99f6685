// No silent dead ends, end to end with two whole gateways in this process, real SMTP sockets and
// real PMTP between them. Mail submitted on a.test for b.test: the recipient b.test does not
// know is refused by b.test's gateway over PMTP, and alice hears it in a DSN in her Maildir (the
// one b.test delivered, asked with NOTIFY=SUCCESS, too). Mail taken on a.test's MX whose delivery
// fails: a DSN to the sender SPF vouched for, none to a sender SPF failed (backscatter).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/config/password-hash.js';
import { generateDomainKey } from '../../src/native/protocol/domain-keys.js';
import { RawSmtp } from '../inbound-smtp/raw-smtp.js';
import { startMailbridge, type TestMailbridge, waitForFiles } from '../support/mailbridge.js';
import { freePort, type Sink, startSink } from '../support/smtp-sink.js';
import { tempDir } from '../support/tmp.js';

/** Sends one message; resolves with the 250 line. `auth` logs in first (submission). */
async function send(
  port: number,
  envelope: { from: string; fromArgs?: string; to: readonly (readonly [string, string?])[] },
  data: string,
  auth?: { user: string; password: string },
): Promise<string> {
  const c = await RawSmtp.connect(port);
  try {
    const ehlo = await c.command('EHLO client.test');
    expect(ehlo).toMatch(/^250-DSN$/m);
    if (auth)
      expect(
        await c.command(`AUTH PLAIN ${Buffer.from(`\0${auth.user}\0${auth.password}`).toString('base64')}`),
      ).toMatch(/^235/);
    expect(await c.command(`MAIL FROM:<${envelope.from}>${envelope.fromArgs ? ` ${envelope.fromArgs}` : ''}`)).toMatch(
      /^250/,
    );
    for (const [to, args] of envelope.to)
      expect(await c.command(`RCPT TO:<${to}>${args ? ` ${args}` : ''}`)).toMatch(/^250/);
    expect(await c.command('DATA')).toMatch(/^354/);
    return await c.command(`${data}\r\n.`);
  } finally {
    c.end();
  }
}

const queuedAs = (reply: string): string => {
  const id = /^250 2\.0\.0 Ok: queued as (\S+)$/.exec(reply)?.[1];
  if (!id) throw new Error(`not queued: ${reply}`);
  return id;
};

describe('DSNs end to end', () => {
  let a: TestMailbridge;
  let b: TestMailbridge;
  let good: Sink;
  let hard: Sink;
  const removers: (() => Promise<void>)[] = [];
  const password = 'correct horse';

  beforeAll(async () => {
    const [dirA, dirB] = await Promise.all([tempDir('dsn-a'), tempDir('dsn-b')]);
    removers.push(dirA.remove, dirB.remove);
    const [pmtpA, pmtpB] = [await freePort(), await freePort()];
    good = await startSink();
    hard = await startSink({ flags: ['-f', 'rcpt', '-B', '550 5.1.1 <x>: No such user here (sink)'] });
    for (const dir of [dirA.dir, dirB.dir])
      await writeFile(path.join(dir, 'pmtp.key'), generateDomainKey().privatePem, { mode: 0o600 });
    await writeFile(
      path.join(dirA.dir, 'zone.txt'),
      [
        '$ORIGIN spf-pass.test.',
        '@ TXT "v=spf1 ip4:127.0.0.1 -all"',
        '@ MX 10 mx.spf-pass.test.',
        'mx A 127.0.0.1',
        '$ORIGIN spf-fail.test.',
        '@ TXT "v=spf1 -all"',
        '',
      ].join('\n'),
    );
    const common = (dir: string, domain: string, port: number, peer: string, peerPort: number) => ({
      hostname: `mx.${domain}`,
      spool: { dir: path.join(dir, 'spool') },
      mailbox: { maildir_root: path.join(dir, 'mail') },
      queues: { retry: { initial_delay_s: 1, max_delay_s: 1, jitter: 0 } },
      // the peer gateway listens on loopback over plain http
      egress: { allow_hosts: ['127.0.0.1'] },
      pmtp: {
        domain,
        key_file: path.join(dir, 'pmtp.key'),
        public_url: `http://127.0.0.1:${port}`,
        listen: { host: '127.0.0.1', port, plain_http: true },
        directory: { [peer]: { endpoint: `http://127.0.0.1:${peerPort}` } },
      },
    });
    a = await startMailbridge(dirA.dir, {
      ...common(dirA.dir, 'a.test', pmtpA, 'b.test', pmtpB),
      dns: { zone_file: path.join(dirA.dir, 'zone.txt') },
      smtp: {
        listeners: [
          { role: 'submission', host: '127.0.0.1', port: 0, allow_insecure_auth: true },
          { role: 'mx', host: '127.0.0.1', port: 0 },
        ],
        accounts: [{ user: 'alice@a.test', password_hash: await hashPassword(password, { N: 1024 }) }],
      },
      domains: { mailbox: ['a.test'], postfix: { 'corp.a.test': { host: '127.0.0.1', port: hard.port } } },
      outbound: { port_map: { 'mx.spf-pass.test': good.port } },
    });
    b = await startMailbridge(dirB.dir, {
      ...common(dirB.dir, 'b.test', pmtpB, 'a.test', pmtpA),
      smtp: { listeners: [{ role: 'mx', host: '127.0.0.1', port: 0 }] },
      domains: { mailbox: ['b.test'], recipients: { 'b.test': ['bob'] }, first_contact: { default: 'allow' } },
    });
  }, 30_000);
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await Promise.all([good?.stop(), hard?.stop()]);
    for (const remove of removers) await remove();
  });

  const logs = async () => `${await a.log()}\n--- b.test ---\n${await b.log()}`;

  it('submission for a PMTP domain: the recipient the other gateway refuses comes back to alice as a DSN', async () => {
    const reply = await send(
      a.port('submission'),
      {
        from: 'alice@a.test',
        fromArgs: 'RET=HDRS ENVID=E2E+2B1',
        to: [
          ['ghost@b.test', 'ORCPT=rfc822;Ghost@b.test'],
          ['bob@b.test', 'NOTIFY=SUCCESS'],
        ],
      },
      'From: Alice <alice@a.test>\r\nTo: ghost@b.test, bob@b.test\r\nSubject: lunch over PMTP\r\nMessage-ID: <lunch@a.test>\r\n\r\nLunch?',
      { user: 'alice@a.test', password },
    );
    const queueId = queuedAs(reply);
    const [atBob] = await waitForFiles(() => b.delivered('b.test', 'bob'), 1, logs, 30_000);
    expect(atBob!.toString()).toContain('Subject: lunch over PMTP');
    const dsns = (await waitForFiles(() => a.delivered('a.test', 'alice'), 2, logs, 30_000)).map((f) => f.toString());
    const failure = dsns.find((d) => d.includes('Action: failed'));
    const success = dsns.find((d) => d.includes('Action: delivered'));
    expect(failure, dsns.join('\n=====\n')).toBeDefined();
    expect(failure).toContain('Subject: Undelivered Mail Returned to Sender');
    expect(failure).toContain(`X-Mailbridge-Queue-ID: ${queueId}`);
    expect(failure).toContain('Original-Envelope-Id: E2E+1');
    expect(failure).toMatch(
      /Original-Recipient: rfc822;Ghost@b\.test\r?\nFinal-Recipient: rfc822; ghost@b\.test\r?\nAction: failed\r?\nStatus: 5\.1\.1\r?\nRemote-MTA: dns; b\.test\r?\nDiagnostic-Code: x-pmtp; rejected: recipient_unknown/,
    );
    expect(failure).toContain('Content-Type: text/rfc822-headers');
    expect(failure).toContain('Subject: lunch over PMTP');
    expect(failure).not.toContain('bob@b.test\r\nAction');
    expect(success).toMatch(/Final-Recipient: rfc822; bob@b\.test\r?\nAction: delivered\r?\nStatus: 2\.0\.0/);
    expect(dsns).toHaveLength(2);
  }, 60_000);

  it('MX mail that fails: a DSN to the sender SPF vouched for, none to one SPF failed', async () => {
    const message = (from: string, subject: string) =>
      `From: <${from}>\r\nTo: <user@corp.a.test>\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@client.test>\r\n\r\nHello.`;
    const forged = queuedAs(
      await send(
        a.port('mx'),
        { from: 'victim@spf-fail.test', to: [['user@corp.a.test']] },
        message('victim@spf-fail.test', 'forged'),
      ),
    );
    const genuine = queuedAs(
      await send(
        a.port('mx'),
        { from: 'bounces@spf-pass.test', to: [['user@corp.a.test']] },
        message('bounces@spf-pass.test', 'genuine'),
      ),
    );
    const deadline = Date.now() + 30_000;
    let dsn: string | undefined;
    while (!dsn && Date.now() < deadline) {
      dsn = (await good.messages()).find((m) => m.includes(`X-Mailbridge-Queue-ID: ${genuine}`));
      if (!dsn) await new Promise((r) => setTimeout(r, 100));
    }
    expect(dsn, await logs()).toBeDefined();
    expect(dsn).toMatch(/^X-Rcpt-Args: <bounces@spf-pass\.test>/m);
    expect(dsn).toContain('Diagnostic-Code: smtp; 550 5.1.1 <x>: No such user here (sink)');
    const log = await a.log();
    const withheld = log
      .split('\n')
      .filter((l) => l.includes(forged) && l.includes('"DSN withheld"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(withheld, log.slice(-4000)).toEqual([
      expect.objectContaining({ withheld: 'sender not authenticated (SPF fail, DMARC none)' }),
    ]);
    expect((await good.messages()).some((m) => m.includes(`X-Mailbridge-Queue-ID: ${forged}`))).toBe(false);
  }, 60_000);
});
