// Forged Authentication-Results and stray PMTP-Token fields across a staging network: whatever way a
// message travels (submission to a local mailbox, over PMTP to another gateway, over SMTP to a legacy
// domain, or in at the MX), no copy a gateway delivers keeps an Authentication-Results in that
// gateway's name that it did not write (RFC 8601 §5), nor a PMTP-Token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { swaksRaw, swaksReplies } from '../inbound-smtp/peers.js';
import { tempDir } from '../support/tmp.js';
import { type Staging, startStaging } from './staging.js';

const forgedFields = [
  'Authentication-Results: mx.alpha.test; dkim=pass header.d=bank.test',
  'Authentication-Results: mx.beta.test; dkim=pass header.d=bank.test',
  'PMTP-Token: eyJ2IjoxfQ.c2ln',
];

function crafted(from: string, to: string, subject: string): string {
  return [
    ...forgedFields,
    `From: <${from}>`,
    `To: ${to}`,
    `Subject: ${subject}`,
    `Message-ID: <${subject.replace(/\W/g, '-')}@client.test>`,
    '',
    'Hello.',
    '.',
  ].join('\r\n');
}

describe('attacks: forged trace fields', () => {
  let s: Staging;
  let dir: string;
  let remove: () => Promise<void>;

  beforeAll(async () => {
    ({ dir, remove } = await tempDir('forged-fields'));
    s = await startStaging(['alpha.test', 'beta.test'], ['legacy.test']);
  });
  afterAll(async () => {
    await s?.stop();
    await remove();
  });

  /** The header section of each copy, so a field quoted in a body could not pass for one. */
  const heads = (copies: string[]) => copies.map((c) => c.slice(0, c.indexOf('\r\n\r\n')));

  /** No token, and exactly one field in the delivering gateway's name: the one it wrote. */
  function expectClean(head: string, ownHost: string): void {
    expect(head).not.toMatch(/^pmtp-token:/im);
    expect(head).not.toContain(`${ownHost}; dkim=pass`);
    expect(head.match(new RegExp(`^Authentication-Results: ${ownHost.replace(/\./g, '\\.')};`, 'gim'))).toHaveLength(1);
  }

  it('submission to a local mailbox, a PMTP domain and a legacy domain', async () => {
    const alpha = s.domains['alpha.test']!;
    const to = 'postmaster@alpha.test,erin@beta.test,dave@legacy.test';
    const auth = ['--auth', 'PLAIN', '--auth-user', alpha.user, '--auth-password', alpha.password];
    const run = await swaksRaw(
      s.port(alpha.submission),
      alpha.user,
      to,
      crafted(alpha.user, '<erin@beta.test>', 'submitted forged'),
      dir,
      auth,
    );
    expect(swaksReplies(run.out).at(-2), run.out).toMatch(/^250 2\.0\.0 Ok: queued as/);
    const [local, erin, dave] = await Promise.all([
      s.waitDelivered('alpha.test', 'postmaster', 1, 30_000),
      s.waitDelivered('beta.test', 'erin', 1, 30_000),
      s.waitDelivered('legacy.test', 'dave', 1, 30_000),
    ]);
    expect([local.length, erin.length, dave.length]).toEqual([1, 1, 1]);
    expectClean(heads(local)[0]!, 'mx.alpha.test');
    expectClean(heads(erin)[0]!, 'mx.beta.test');
    // alpha removed the field in its name when it took the message, beta the one in its own
    expect(heads(erin)[0]).not.toContain('bank.test');
    expectClean(heads(dave)[0]!, 'mx.alpha.test');
    // each mailbox copy says how it got in: over SMTP, or past beta's first contact from alpha
    expect(heads(local)[0]).toMatch(/^PMTP-Trust: smtp$/m);
    expect(heads(erin)[0]).toMatch(/^PMTP-Trust: [a-z-]+; author=aligned; origin=alpha\.test$/m);
  });

  it('in at the MX from the legacy internet', async () => {
    const alpha = s.domains['alpha.test']!;
    const run = await swaksRaw(
      s.port(alpha.mx),
      'carol@legacy.test',
      'bob@alpha.test',
      crafted('carol@legacy.test', '<bob@alpha.test>', 'mx forged'),
      dir,
    );
    expect(swaksReplies(run.out).at(-2), run.out).toMatch(/^250 2\.0\.0 Ok: queued as/);
    const bob = await s.waitDelivered('alpha.test', 'bob', 1, 30_000);
    expect(bob).toHaveLength(1);
    expectClean(heads(bob)[0]!, 'mx.alpha.test');
  });
});
