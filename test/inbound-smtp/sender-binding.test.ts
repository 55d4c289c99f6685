// Submission binds senders to the login (Postfix's reject_sender_login_mismatch), tested with swaks
// on a real listener: MAIL FROM outside the login's senders gets 553 5.7.1, a From:/Sender: outside
// them 550 5.7.1 after the final dot with nothing spooled; relay-in stays unbound.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/config/password-hash.js';
import { tempDir } from '../support/tmp.js';
import { type Harness, message, startHarness } from './harness.js';
import { swaksRaw, swaksReplies } from './peers.js';

const login = (user: string) => ['--auth', 'PLAIN', '--auth-user', user, '--auth-password', 's3cret'];
const queued = /^250 2\.0\.0 Ok: queued as \S+$/;

describe('submission: senders bound to the login', () => {
  let h: Harness;
  let dir: string;
  let removeDir: () => Promise<void>;

  beforeAll(async () => {
    ({ dir, remove: removeDir } = await tempDir('senders'));
    const password_hash = await hashPassword('s3cret', { N: 1024 });
    h = await startHarness({
      listeners: [{ role: 'submission', allow_insecure_auth: true }, { role: 'relay-in' }],
      config: {
        smtp: {
          relay_clients: ['127.0.0.1'],
          accounts: [
            { user: 'alice@native.test', password_hash },
            { user: 'ops', password_hash, senders: ['@corp.test', 'alerts@native.test'] },
            { user: 'bulk@native.test', password_hash, senders: ['*'] },
            { user: 'bounces@native.test', password_hash, senders: ['<>'] },
          ],
        },
      },
    });
  });
  afterAll(async () => {
    await h?.close();
    await removeDir();
  });

  /** Sends one message; returns the server's replies and the spool entries it added. */
  async function send(user: string, from: string, data: string, port = h.port('submission')) {
    const before = await h.entries();
    const run = await swaksRaw(port, from, 'friend@elsewhere.test', `${data}.`, dir, login(user));
    const added = (await h.entries()).filter((e) => !before.includes(e));
    return { replies: swaksReplies(run.out), added, out: run.out };
  }

  it('accepts the login’s own address, in envelope and header', async () => {
    const { replies, added } = await send('alice@native.test', 'alice@native.test', message('alice@NATIVE.test', 'x'));
    expect(replies.at(-2)).toMatch(queued);
    expect(added).toHaveLength(1);
  });

  it('refuses another address at MAIL FROM with 553 5.7.1 naming the login', async () => {
    const { replies, added } = await send('alice@native.test', 'bob@native.test', message('bob@native.test', 'x'));
    expect(replies).toContain(
      '553 5.7.1 Sender address rejected: not owned by the login: login alice@native.test does not own <bob@native.test>',
    );
    expect(added).toEqual([]);
  });

  it('refuses the null sender unless granted', async () => {
    const refused = await send('alice@native.test', '<>', message('alice@native.test', 'x'));
    expect(refused.replies).toContainEqual(expect.stringMatching(/^553 5\.7\.1 .*does not own <>$/));
    expect(refused.added).toEqual([]);
    const granted = await send('bounces@native.test', '<>', message('bounces@native.test', 'x'));
    expect(granted.replies.at(-2)).toMatch(queued);
  });

  it('grants a whole domain with @domain, and listed addresses', async () => {
    const domain = await send('ops', 'anyone@CORP.test', message('someone@corp.test', 'x'));
    expect(domain.replies.at(-2), domain.out).toMatch(queued);
    const listed = await send('ops', 'alerts@native.test', message('alerts@native.test', 'x'));
    expect(listed.replies.at(-2)).toMatch(queued);
    const outside = await send('ops', 'ops@native.test', message('ops@native.test', 'x'));
    expect(outside.replies).toContainEqual(expect.stringMatching(/^553 5\.7\.1 .*login ops does not own/));
  });

  it('lets a login with "*" send as anyone', async () => {
    const { replies, added } = await send('bulk@native.test', 'ceo@elsewhere.test', message('ceo@elsewhere.test', 'x'));
    expect(replies.at(-2)).toMatch(queued);
    expect(added).toHaveLength(1);
  });

  it('refuses a From: the login does not own with 550 5.7.1 after the final dot, and spools nothing', async () => {
    const data = message(
      'alice@native.test',
      'x',
      'Hello.',
      'From: "Alice" <alice@native.test>, <ceo@native.test>\r\n',
    );
    const { replies, added } = await send('alice@native.test', 'alice@native.test', data);
    expect(replies.slice(-2, -1)).toEqual([
      '550 5.7.1 Header sender rejected: not owned by the login: login alice@native.test does not own From: <ceo@native.test>',
    ]);
    // the envelope was fine: MAIL, RCPT and DATA were accepted before the refusal
    expect(replies.filter((r) => r.startsWith('250 ') || r.startsWith('354 '))).not.toHaveLength(0);
    expect(added).toEqual([]);
  });

  it('refuses a Sender: the login does not own', async () => {
    const data = message('alice@native.test', 'x', 'Hello.', 'Sender: secretary@native.test\r\n');
    const { replies, added } = await send('alice@native.test', 'alice@native.test', data);
    expect(replies.at(-2)).toBe(
      '550 5.7.1 Header sender rejected: not owned by the login: login alice@native.test does not own Sender: <secretary@native.test>',
    );
    expect(added).toEqual([]);
  });

  it('refuses a From: with no address at all', async () => {
    const data = 'From: Alice\r\nTo: <x@elsewhere.test>\r\nSubject: t\r\n\r\nHello.\r\n';
    const { replies, added } = await send('alice@native.test', 'alice@native.test', data);
    expect(replies.at(-2)).toMatch(/^550 5\.7\.1 Header sender rejected/);
    expect(added).toEqual([]);
  });

  it('leaves relay-in unbound: the MTA in front relays for many senders', async () => {
    const before = await h.entries();
    const run = await swaksRaw(
      h.port('relay-in'),
      'news@forwarded.test',
      'someone@elsewhere.test',
      `${message('news@forwarded.test', 'someone@elsewhere.test')}.`,
      dir,
    );
    expect(swaksReplies(run.out).at(-2)).toMatch(queued);
    expect((await h.entries()).filter((e) => !before.includes(e))).toHaveLength(1);
  });
});
