// Through a real, private Postfix into a Maildir: the bytes arrive, our DKIM signature verifies,
// and a recipient Postfix defers is retried without sending the accepted one a second copy.
import { dkimVerify } from 'mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDomainSigners } from '../../src/mail/domain-signers.js';
import { testConfig } from '../support/config.js';
import { makeDkimKey, type TestDkimKey } from '../support/dkim-key.js';
import { type PrivatePostfix, startPostfix } from '../support/postfix.js';
import { smtpRecord } from '../support/records.js';
import { testPrefix } from '../support/redis.js';
import { staticResolver } from '../support/static-resolver.js';
import { tempDir } from '../support/tmp.js';
import { eventually, type Harness, outboundHarness } from './harness.js';

const message = [
  'From: Alice <alice@example.org>',
  'To: Bob <bob@test.example>',
  'Subject: through postfix',
  'Date: Tue, 02 Jan 2024 03:04:05 +0000',
  'Message-ID: <postfix-1@example.org>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'Hello Bob,',
  '.a line that starts with a dot',
  '',
].join('\r\n');

describe('delivery through a private Postfix', () => {
  let postfix: PrivatePostfix;
  let harness: Harness;
  let key: TestDkimKey;
  let remove: () => Promise<void>;

  beforeAll(async () => {
    // our address is outside mynetworks, so Postfix defers relaying elsewhere (454 4.7.1)
    postfix = await startPostfix({ domain: 'test.example', mynetworks: '127.0.0.2/32' });
    const tmp = await tempDir('postfix-out');
    remove = tmp.remove;
    key = await makeDkimKey(tmp.dir, 'example.org', 'mb1');
    const config = testConfig(
      {
        spool: { dir: tmp.dir },
        hostname: 'gw.example.org',
        queues: { outbound: { retry: { initial_delay_s: 1, max_delay_s: 1, lifetime_s: 60, jitter: 0 } } },
        outbound: { port_map: { 'mx.test.example': postfix.port } },
        dkim: { domain: 'example.org', selector: 'mb1', key_file: key.keyFile },
      },
      testPrefix(),
    );
    const resolver = staticResolver({
      mx: {
        'test.example': [{ exchange: 'mx.test.example', priority: 10 }],
        'elsewhere.example': [{ exchange: 'mx.test.example', priority: 10 }],
      },
      a: { 'mx.test.example': ['127.0.0.1'] },
    });
    const dkim = await loadDomainSigners(config, `${tmp.dir}/dkim-cache`);
    harness = await outboundHarness(config, resolver, { dkim });
  });
  afterAll(async () => {
    await harness?.close();
    await postfix?.stop();
    await remove?.();
  });

  it('lands the message in the Maildir over STARTTLS with a DKIM signature that verifies', async () => {
    const queueId = await harness.submit(
      message,
      smtpRecord({
        role: 'submission',
        user: 'alice@example.org',
        envelope: { mailFrom: 'alice@example.org', rcptTo: ['bob@test.example'] },
      }),
    );
    const job = await harness.finished(queueId);
    expect(await job.getState()).toBe('completed');
    const [stored] = await eventually(async () =>
      (await postfix.delivered()).length > 0 ? postfix.delivered() : undefined,
    );
    const text = stored!.toString();
    expect(text).toContain('Delivered-To: bob@test.example');
    // opportunistic STARTTLS: taken although the certificate is self-signed
    expect(text).toMatch(
      /^Received: from gw\.example\.org \(unknown \[127\.0\.0\.1\]\)\n\t\(using TLSv1\.[23] with cipher [\s\S]*?\tby mx\.test\.example \(Postfix\) with ESMTPS id /m,
    );
    expect(text).toMatch(
      /^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=example.org;\s+q=dns\/txt; s=mb1;/m,
    );
    expect(text).toContain(
      'Received: from client.example ([127.0.0.1])\n\tby gw.example.org (mailbridge) with ESMTPA id INBOUND;',
    );
    expect(text.slice(text.indexOf('\nFrom: Alice')).replace(/\r?\n/g, '\r\n')).toContain(
      message.slice(message.indexOf('From: Alice')),
    );
    const verdict = await dkimVerify(stored!, { resolver: key.resolver });
    expect(verdict.results.map((r) => [r.signingDomain, r.status.result])).toEqual([['example.org', 'pass']]);
    expect(await harness.status.recipient(queueId, 'bob@test.example')).toMatchObject({
      state: 'delivered',
      reply: expect.stringMatching(/^250 2\.0\.0 Ok: queued as /),
    });
  });

  it('splits one transaction by recipient: the accepted one is delivered once, the deferred one retried', async () => {
    const before = (await postfix.delivered()).length;
    // 59 s of a 60 s lifetime gone: one retry at most, then the deferred recipient expires
    const createdAt = new Date(Date.now() - 59_000).toISOString();
    const queueId = await harness.submit(
      message.replace('postfix-1', 'postfix-2'),
      smtpRecord({
        role: 'mx',
        createdAt,
        envelope: { mailFrom: 'alice@example.org', rcptTo: ['bob@test.example', 'x@elsewhere.example'] },
      }),
    );
    const job = await harness.finished(queueId);
    expect(await job.getState()).toBe('failed');
    const status = await harness.status.get(queueId);
    expect(status.map((s) => [s.recipient, s.state, s.attempts])).toEqual([
      ['bob@test.example', 'delivered', 1],
      ['x@elsewhere.example', 'expired', expect.any(Number)],
    ]);
    expect(status[1]!.reply).toMatch(/454 4\.7\.1 .*Relay access denied/);
    // Postfix said 250 before its local delivery: wait for the Maildir, then make sure no second copy follows
    await eventually(async () => ((await postfix.delivered()).length > before ? true : undefined));
    await new Promise((r) => setTimeout(r, 300));
    const added = (await postfix.delivered()).slice(before);
    expect(added.filter((m) => m.includes('postfix-2@example.org'))).toHaveLength(1);
  });
});
