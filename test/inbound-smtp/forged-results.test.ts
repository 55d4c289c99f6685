// RFC 8601 §5: an Authentication-Results in our name that arrives from outside is forged. swaks sends
// one to a real mx and submission listener; the spooled bytes (what every later stage relays, under
// our own field) keep every other field and the body, but not the forged one.
import { buffer } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/config/password-hash.js';
import { tempDir } from '../support/tmp.js';
import { type Harness, startHarness } from './harness.js';
import { swaksRaw, swaksReplies } from './peers.js';

const forged = [
  'Authentication-Results: mx.gw.test; dkim=pass header.d=bank.test',
  // only a gateway writes PMTP-Trust: one that arrives claims a first contact that never happened
  'PMTP-Trust: allowlisted; author=aligned; origin=bank.test',
  'Authentication-Results: (comment) MX.GW.TEST;',
  '\tdmarc=pass header.from=bank.test',
];
const theirs = 'Authentication-Results: relay.elsewhere.test; spf=pass smtp.mailfrom=elsewhere.test';

function crafted(from: string): string {
  return [
    ...forged.slice(0, 2),
    theirs,
    ...forged.slice(2),
    `From: <${from}>`,
    'To: <alice@native.test>',
    'Subject: forged results',
    '',
    'Authentication-Results: mx.gw.test; in the body it is only text',
    '.',
  ].join('\r\n');
}

describe('forged Authentication-Results at SMTP intake', () => {
  let h: Harness;
  let dir: string;
  let removeDir: () => Promise<void>;

  beforeAll(async () => {
    ({ dir, remove: removeDir } = await tempDir('forged-ar'));
    const password_hash = await hashPassword('s3cret', { N: 1024 });
    h = await startHarness({
      listeners: [{ role: 'mx' }, { role: 'submission', allow_insecure_auth: true }],
      config: { smtp: { accounts: [{ user: 'bob@native.test', password_hash }] } },
    });
  });
  afterAll(async () => {
    await h?.close();
    await removeDir();
  });

  async function spooled(port: number, from: string, extra: string[] = []): Promise<string> {
    const run = await swaksRaw(port, from, 'alice@native.test', crafted(from), dir, extra);
    const id = /^250 2\.0\.0 Ok: queued as (\S+)$/.exec(swaksReplies(run.out).at(-2) ?? '')?.[1];
    expect(id, run.out).toBeDefined();
    return (await buffer((await h.spool.openBody(id!)).stream)).toString('latin1');
  }

  for (const role of ['mx', 'submission'] as const) {
    it(`${role}: leaves out ours, keeps another host's and the body`, async () => {
      const auth = ['--auth', 'PLAIN', '--auth-user', 'bob@native.test', '--auth-password', 's3cret'];
      const from = role === 'mx' ? 'carol@elsewhere.test' : 'bob@native.test';
      const bytes = await spooled(h.port(role), from, role === 'mx' ? [] : auth);
      expect(bytes).toBe(
        [
          theirs,
          `From: <${from}>`,
          'To: <alice@native.test>',
          'Subject: forged results',
          '',
          'Authentication-Results: mx.gw.test; in the body it is only text',
          '',
        ].join('\r\n'),
      );
    });
  }
});
