// Recipient verification at RCPT against real peers on loopback: Dovecot's userdb (auth-userdb
// socket), a probe of Dovecot's LMTP and of a private Postfix's virtual mailbox table. Unknown
// users get 550 5.1.1, a source that cannot answer 450 4.1.1, and answers are cached per TTL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type ConfigProblem, parseConfig } from '../../src/config/load.js';
import { rcptAnswer } from '../../src/inbound-smtp/recipient-probe.js';
import { RecipientVerification } from '../../src/inbound-smtp/recipient-verification.js';
import { dovecotMissing, type PrivateDovecot, startDovecot } from '../support/dovecot.js';
import { type PrivatePostfix, startPostfix } from '../support/postfix.js';
import { freePort, startSink } from '../support/smtp-sink.js';
import { type Harness, startHarness } from './harness.js';
import { RawSmtp } from './raw-smtp.js';

const skipDovecot = dovecotMissing();
const address = (a: string) => {
  const [local, domain] = a.split('@') as [string, string];
  return { address: a, local, domain };
};

describe('what a probe reply says about a recipient', () => {
  it('2xx exists; 550, 551, 553 and enhanced 5.1.x are unknown; 4xx and other 5xx cannot tell', () => {
    expect(rcptAnswer({ code: 250, text: '2.1.5 OK' })).toBe('exists');
    expect(rcptAnswer({ code: 550, text: '5.1.1 <g@x> User unknown' })).toBe('unknown');
    expect(rcptAnswer({ code: 553, text: '5.1.3 bad' })).toBe('unknown');
    expect(rcptAnswer({ code: 554, text: '5.1.1 no such user' })).toBe('unknown');
    expect(rcptAnswer({ code: 450, text: '4.1.1 try later' })).toBe('unavailable');
    // a full mailbox is no unknown user: the sender should retry, not bounce
    expect(rcptAnswer({ code: 552, text: '5.2.2 Quota exceeded' })).toBe('unavailable');
  });
});

describe.skipIf(skipDovecot)(
  `recipient verification against Dovecot${skipDovecot ? ` (skipped: ${skipDovecot})` : ''}`,
  () => {
    let dovecot: PrivateDovecot;
    let harness: Harness;
    let deadPort: number;

    beforeAll(async () => {
      dovecot = await startDovecot([{ user: 'alice@native.test', password: '{PLAIN}secret' }]);
      deadPort = await freePort();
      harness = await startHarness({
        listeners: [{ role: 'mx' }],
        config: {
          mailbox: { maildir_root: '/tmp/unused-maildir' },
          domains: {
            mailbox: ['native.test', 'down.test'],
            postfix: { 'lmtp.test': { host: '127.0.0.1', port: dovecot.lmtpPort, protocol: 'lmtp' } },
            verify: {
              'native.test': { source: 'dovecot', socket: dovecot.userdbSocket },
              'down.test': { source: 'dovecot', socket: `127.0.0.1:${deadPort}`, timeout_s: 2 },
              'lmtp.test': { source: 'probe' },
            },
          },
        },
      });
    }, 30_000);

    afterAll(async () => {
      await harness?.close();
      await dovecot?.stop();
    });

    async function rcpt(to: string): Promise<string> {
      const client = await RawSmtp.connect(harness.port('mx'));
      await client.command('EHLO client.test');
      await client.command('MAIL FROM:<someone@elsewhere.test>');
      const answer = await client.command(`RCPT TO:<${to}>`);
      client.end();
      return answer;
    }

    it('asks the userdb: a user is taken, an unknown one gets 550 5.1.1 at RCPT, postmaster always', async () => {
      expect(await rcpt('alice@native.test')).toMatch(/^250 /);
      expect(await rcpt('ghost@native.test')).toMatch(/^550 5\.1\.1 .*ghost@native\.test: user unknown/);
      expect(await rcpt('postmaster@native.test')).toMatch(/^250 /);
    });

    it('probes the LMTP server behind a postfix-routed domain with LHLO, MAIL FROM:<> and RCPT', async () => {
      // Dovecot's LMTP looks its users up by the whole address, which here is in native.test
      expect(await rcpt('ghost@lmtp.test')).toMatch(/^550 5\.1\.1 /);
      const verification = new RecipientVerification(
        {
          postfix: {},
          verify: {
            'native.test': {
              source: 'probe',
              host: '127.0.0.1',
              port: dovecot.lmtpPort,
              protocol: 'lmtp',
              positive_ttl_s: 60,
              negative_ttl_s: 60,
              cache_entries: 10,
              timeout_s: 5,
            },
          },
        },
        'mx.gw.test',
      );
      expect(await verification.check(address('alice@native.test'))).toBe('exists');
      expect(await verification.check(address('ghost@native.test'))).toBe('unknown');
    });

    it('answers 450 4.1.1 when the source cannot be reached, never 250 or 550', async () => {
      expect(await rcpt('alice@down.test')).toMatch(/^450 4\.1\.1 /);
    });

    it('keeps a negative answer for negative_ttl_s, then asks again and finds a user added meanwhile', async () => {
      let now = 1_000_000;
      const verification = new RecipientVerification(
        {
          postfix: {},
          verify: {
            'native.test': {
              source: 'dovecot',
              socket: dovecot.userdbSocket,
              username: 'address',
              positive_ttl_s: 600,
              negative_ttl_s: 60,
              cache_entries: 100,
              timeout_s: 5,
            },
          },
        },
        'mx.gw.test',
        () => now,
      );
      expect(await verification.check(address('carol@native.test'))).toBe('unknown');
      await dovecot.addUser({ user: 'carol@native.test', password: '{PLAIN}pw' });
      now += 59_000;
      expect(await verification.check(address('carol@native.test'))).toBe('unknown');
      now += 2000;
      expect(await verification.check(address('carol@native.test'))).toBe('exists');
    });

    it('does not cache "cannot tell": the next RCPT asks again and gets the real answer', async () => {
      const port = await freePort();
      const verification = new RecipientVerification(
        {
          postfix: {},
          verify: {
            'native.test': {
              source: 'probe',
              host: '127.0.0.1',
              port,
              protocol: 'lmtp',
              positive_ttl_s: 600,
              negative_ttl_s: 600,
              cache_entries: 100,
              timeout_s: 2,
            },
          },
        },
        'mx.gw.test',
      );
      expect(await verification.check(address('alice@native.test'))).toBe('unavailable');
      // the same port now answers (Postfix's smtp-sink, LMTP): a cached failure would still say unavailable
      const sink = await startSink({ port, flags: ['-L'] });
      try {
        expect(await verification.check(address('alice@native.test'))).toBe('exists');
      } finally {
        await sink.stop();
      }
    });
  },
);

describe('a local domain with no recipient source', () => {
  const domains = {
    mailbox: ['open.test', 'listed.test', 'catchall.test'],
    postfix: { 'behind.test': { host: '127.0.0.1', port: 2525 } },
    recipients: { 'listed.test': ['alice'] },
    verify: { 'catchall.test': { source: 'any' } },
  };

  it('is named, with its line, in a warning check-config and start print', () => {
    const text = stringify({ spool: { dir: '/tmp/unused' }, domains });
    const warnings: ConfigProblem[] = [];
    parseConfig(text, 'mailbridge.yaml', {}, (w) => warnings.push(w));
    expect(warnings.map((w) => w.key)).toEqual(['domains.mailbox.0', 'domains.postfix.behind.test']);
    expect(warnings[0]?.message).toMatch(/every local part is accepted at RCPT/);
    expect(warnings[1]?.line).toBe(text.split('\n').findIndex((l) => l.includes('behind.test:')) + 1);
  });

  it('accepts every local part, as the warning says; a listed domain refuses strangers', async () => {
    const harness = await startHarness({ listeners: [{ role: 'mx' }], config: { domains } });
    try {
      const client = await RawSmtp.connect(harness.port('mx'));
      await client.command('EHLO client.test');
      await client.command('MAIL FROM:<someone@elsewhere.test>');
      expect(await client.command('RCPT TO:<anyone@open.test>')).toMatch(/^250 /);
      expect(await client.command('RCPT TO:<anyone@catchall.test>')).toMatch(/^250 /);
      expect(await client.command('RCPT TO:<anyone@listed.test>')).toMatch(/^550 5\.1\.1 /);
      client.end();
    } finally {
      await harness.close();
    }
  });
});

describe('recipient verification by probing a private Postfix', () => {
  let postfix: PrivatePostfix;
  let harness: Harness;

  beforeAll(async () => {
    postfix = await startPostfix({ domain: 'corp.test', users: ['alice'] });
    harness = await startHarness({
      listeners: [{ role: 'mx' }],
      config: {
        domains: {
          mailbox: [],
          postfix: { 'corp.test': { host: '127.0.0.1', port: postfix.port } },
          verify: { 'corp.test': { source: 'probe' } },
        },
      },
    });
  }, 60_000);

  afterAll(async () => {
    await harness?.close();
    await postfix?.stop();
  });

  it("refuses at RCPT what Postfix's virtual mailbox table does not list, and takes who it lists", async () => {
    const client = await RawSmtp.connect(harness.port('mx'));
    await client.command('EHLO client.test');
    await client.command('MAIL FROM:<someone@elsewhere.test>');
    expect(await client.command('RCPT TO:<ghost@corp.test>')).toMatch(/^550 5\.1\.1 /);
    expect(await client.command('RCPT TO:<alice@corp.test>')).toMatch(/^250 /);
    client.end();
    // the probe sent no message
    expect(await postfix.delivered('alice')).toEqual([]);
  });
});
