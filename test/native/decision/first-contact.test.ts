// First contact between real servers: a challenge the sender's worker solves (and the sender is
// then allowlisted), a bad solution, sender tokens with a use limit and revocation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchUrl, PATHS } from '../../../src/native/protocol/endpoints.js';
import { batchResponseSchema } from '../../../src/native/protocol/notice.js';
import { solveChallenge } from '../../../src/native/protocol/proof-of-work.js';
import { type PmtpNode, startPair, textMessage, until } from '../server/harness.js';

/** Submits a message at `a` and waits until its one recipient is delivered or rejected. */
async function sendAndSettle(
  a: PmtpNode,
  from: string,
  to: string,
  tokens?: string[],
): Promise<{ state: string; code?: string }> {
  const msg = textMessage(from, to, 'hello\r\n');
  const sent = await a.service.outbox.submit({
    manifest: msg.manifest,
    body: msg.body,
    recipients: [to],
    ...(tokens ? { tokens } : {}),
  });
  return until(async () => {
    const s = (await a.service.context.status.get(sent.id))[0];
    return s && (s.state === 'delivered' || s.state === 'rejected') ? s : undefined;
  });
}

describe('first contact: challenges', () => {
  let a: PmtpNode;
  let b: PmtpNode;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ a, b, close } = await startPair({ b: { firstContact: { default: 'challenge', pow_bits: 10 } } }));
  });
  afterAll(async () => close());

  it('a solved challenge is accepted with trust "challenged" and allowlists the sender', async () => {
    const msg = textMessage('alice@a.example', 'bob@b.example', 'first contact\r\n');
    const sent = await a.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['bob@b.example'],
    });
    await until(async () => (await a.service.context.status.get(sent.id))[0]?.state === 'delivered');
    expect(b.delivered.at(-1)?.request.trustClass).toBe('challenged');
    expect(await b.service.context.contacts.has('bob@b.example', 'alice@a.example')).toBe(true);
    const next = textMessage('alice@a.example', 'bob@b.example', 'second\r\n');
    const again = await a.service.outbox.submit({
      manifest: next.manifest,
      body: next.body,
      recipients: ['bob@b.example'],
    });
    await until(async () => (await a.service.context.status.get(again.id))[0]?.state === 'delivered');
    expect(b.delivered.at(-1)?.request.trustClass).toBe('allowlisted');
  });

  it('a wrong solution is rejected, and a solution cannot be reused for another notice', async () => {
    const rt = a.service.context;
    const notice = (id: string) => ({
      id,
      version: 1,
      size: 3,
      manifest_digest: 'MeH6W6ozcsF7YCOc5yXsM5pY0T_xMCgxJQyloamE_O4',
      sender: 'mallory@a.example',
      recipients: ['carol@b.example'],
      expires: rt.nowS() + 3600,
      fetch: fetchUrl(a.endpoint, id),
    });
    const post = (n: object) =>
      rt.client.json(
        {
          destination: 'b.example',
          method: 'POST',
          path: PATHS.notices,
          body: { origin: 'a.example', destination: 'b.example', notices: [n] },
          signedResponse: true,
        },
        batchResponseSchema,
      );
    const first = await post(notice('challengedchallenged1'));
    const d = 'recipients' in first.results[0]! ? first.results[0].recipients[0] : undefined;
    expect(d?.disposition).toBe('challenge');
    if (d?.disposition !== 'challenge') return;
    const bad = await post({ ...notice('challengedchallenged1'), pow: [{ challenge: d.challenge, solution: 'nope' }] });
    expect(bad.results[0]).toMatchObject({ recipients: [{ disposition: 'rejected', code: 'challenge_failed' }] });
    const tampered = await post({
      ...notice('challengedchallenged1'),
      pow: [{ challenge: { ...d.challenge, bits: 1 }, solution: '0' }],
    });
    expect(tampered.results[0]).toMatchObject({ recipients: [{ disposition: 'rejected' }] });
    const other = await post({
      ...notice('challengedchallenged2'),
      pow: [{ challenge: d.challenge, solution: solveChallenge(d.challenge) }],
    });
    expect(other.results[0]).toMatchObject({ recipients: [{ disposition: 'rejected', code: 'challenge_failed' }] });
  });
});

describe('first contact: sender tokens', () => {
  let a: PmtpNode;
  let b: PmtpNode;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ a, b, close } = await startPair({ b: { firstContact: { default: 'deny' } } }));
  });
  afterAll(async () => close());

  const sendWith = (token: string) => sendAndSettle(a, 'orders@a.example', 'bob@b.example', [token]);

  it('honours a token up to its use count, then refuses it', async () => {
    const rt = b.service.context;
    const issued = await rt.tokens.issue(
      {
        issuer: 'b.example',
        recipient: 'bob@b.example',
        scope: { domain: 'a.example' },
        expires: rt.nowS() + 3600,
        max_uses: 2,
      },
      rt.keys.current.privateKey,
      rt.nowS(),
    );
    expect((await sendWith(issued.token)).state).toBe('delivered');
    expect(b.delivered.at(-1)?.request.trustClass).toBe('token');
    expect((await sendWith(issued.token)).state).toBe('delivered');
    expect(await sendWith(issued.token)).toMatchObject({ state: 'rejected', code: 'first_contact_denied' });
    expect((await rt.tokens.list()).find((t) => t.tokenId === issued.tokenId)).toMatchObject({
      uses: 2,
      revoked: false,
    });
  });

  it('refuses a revoked token', async () => {
    const rt = b.service.context;
    const issued = await rt.tokens.issue(
      {
        issuer: 'b.example',
        recipient: 'bob@b.example',
        scope: { address: 'orders@a.example' },
        expires: rt.nowS() + 3600,
      },
      rt.keys.current.privateKey,
      rt.nowS(),
    );
    expect(await rt.tokens.revoke(issued.tokenId)).toBe(true);
    expect(await sendWith(issued.token)).toMatchObject({ state: 'rejected', code: 'first_contact_denied' });
  });
});

describe('first contact: live policy (what SIGHUP installs)', () => {
  let a: PmtpNode;
  let b: PmtpNode;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ a, b, close } = await startPair({ b: { firstContact: { default: 'deny' } } }));
  });
  afterAll(async () => close());

  const send = (to: string) => sendAndSettle(a, 'news@a.example', to);

  it('a new first-contact rule and a new recipient list apply to the next notice', async () => {
    const policy = b.service.context.policy;
    expect(await send('bob@b.example')).toMatchObject({ state: 'rejected', code: 'first_contact_denied' });
    policy.apply({ ...b.config.domains, first_contact: { ...b.config.domains.first_contact, allow: ['a.example'] } });
    expect((await send('bob@b.example')).state).toBe('delivered');
    policy.apply({
      recipients: { 'b.example': ['carol'] },
      first_contact: { ...b.config.domains.first_contact, allow: ['a.example'] },
    });
    expect(await send('bob@b.example')).toMatchObject({ state: 'rejected', code: 'recipient_unknown' });
    expect((await send('Carol@b.example')).state).toBe('delivered');
  });
});
