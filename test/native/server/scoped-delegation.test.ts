// Scoped delegation between real PMTP servers (§13.5): b.example redirects bob to his own server,
// which holds its own key and never b.example's. That key pulls and acks bob's mail; used for
// carol's mail, or for notices, it is refused 403 delegation_scope, and once the proof has run out
// 403 delegation_expired. A redirect whose proof names no recipient is not followed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase64Url } from '../../../src/native/protocol/bytes.js';
import { delegateKeyId, signDelegation } from '../../../src/native/protocol/delegation.js';
import { generateDomainKey } from '../../../src/native/protocol/domain-keys.js';
import { signStatement } from '../../../src/native/protocol/signed-statement.js';
import { applyDisposition, applyNoticeResult } from '../../../src/native/workers/notice-outcomes.js';
import { freePort } from '../../support/smtp-sink.js';
import { type PmtpNode, startNode, textMessage, until } from './harness.js';
import { send, signedCall } from './raw-request.js';

const VALID_S = 600;

describe('scoped delegation', () => {
  let a: PmtpNode;
  let b: PmtpNode;
  let delegate: PmtpNode;
  // bob's server's own key: b.example's key set never lists it
  const delegateKey = generateDomainKey();
  let clockOffsetMs = 0;
  let bobMessage = '';
  let carolMessage = '';

  beforeAll(async () => {
    const [pa, pb, pd] = [await freePort(), await freePort(), await freePort()];
    const peersOfB = { 'a.example': { endpoint: `http://127.0.0.1:${pa}` } };
    a = await startNode({
      domain: 'a.example',
      port: pa,
      peers: { 'b.example': { endpoint: `http://127.0.0.1:${pb}` } },
      now: () => Date.now() + clockOffsetMs,
    });
    // b answers notices but never pulls, so carol's mail stays on a for the delegate to try
    b = await startNode({
      domain: 'b.example',
      port: pb,
      peers: peersOfB,
      workers: false,
      pmtp: {
        redirects: [
          {
            recipient: 'bob@b.example',
            endpoint: `http://127.0.0.1:${pd}`,
            delegate_key: toBase64Url(delegateKey.publicKey),
            valid_s: VALID_S,
          },
        ],
      },
    });
    delegate = await startNode({ domain: 'b.example', port: pd, peers: peersOfB, key: delegateKey });
  });
  afterAll(async () => Promise.all([a?.close(), b?.close(), delegate?.close()]));

  const asDelegate = (method: string, path: string, body?: unknown) =>
    send(
      signedCall({
        key: delegateKey,
        origin: 'b.example',
        destination: 'a.example',
        method,
        url: `${a.endpoint}${path}`,
        body,
        created: a.service.context.nowS(),
      }),
    );
  const stateOf = async (id: string) => (await a.service.context.status.get(id))[0];

  it('the delegate pulls and acks the delegated recipient with its own key', async () => {
    const msg = textMessage('alice@a.example', 'bob@b.example', 'to your own server\r\n');
    const sent = await a.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['bob@b.example'],
    });
    bobMessage = sent.id;
    await until(async () => (await stateOf(sent.id))?.state === 'delivered');
    expect(delegate.delivered.map((d) => d.request.manifest.id)).toEqual([sent.id]);
    expect(b.delivered).toHaveLength(0);
    const grant = await a.service.context.delegates.find('b.example', delegateKey.keyId);
    expect(grant).toMatchObject({ recipient: 'bob@b.example', endpoint: delegate.endpoint });
    expect(grant && delegateKeyId(grant)).toBe(delegateKey.keyId);
  });

  it('the same key is refused for another recipient, and for notices', async () => {
    const msg = textMessage('alice@a.example', 'carol@b.example', 'not for bob\r\n');
    const sent = await a.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['carol@b.example'],
    });
    carolMessage = sent.id;
    await until(async () => (await stateOf(sent.id))?.state === 'accepted');
    const pull = await asDelegate('GET', `/pmtp/v1/messages/${sent.id}?view=full&version=1`);
    expect(pull.status).toBe(403);
    expect(pull.json.error.code).toBe('delegation_scope');
    const part = await asDelegate('GET', `/pmtp/v1/messages/${sent.id}/parts/0?version=1`);
    expect([part.status, part.json.error?.code]).toEqual([403, 'delegation_scope']);
    const meta = (await a.service.context.outbox.current(sent.id))!;
    const digest = (await a.service.context.spool.read(meta.queueId)).meta;
    const manifestDigest = digest.kind === 'pmtp-outbox' ? digest.pmtp.digest : '';
    const ack = (recipients: string[]) => ({
      v: 1,
      origin: 'b.example',
      destination: 'a.example',
      acks: [
        {
          id: sent.id,
          version: 1,
          manifest_digest: manifestDigest,
          recipients: recipients.map((recipient) => ({ recipient, result: 'delivered' })),
        },
      ],
    });
    const acked = await asDelegate('POST', '/pmtp/v1/acks', ack(['carol@b.example']));
    expect([acked.status, acked.json.error?.code]).toEqual([403, 'delegation_scope']);
    const mixed = await asDelegate('POST', '/pmtp/v1/acks', ack(['bob@b.example', 'carol@b.example']));
    expect([mixed.status, mixed.json.error?.code]).toEqual([403, 'delegation_scope']);
    expect((await stateOf(sent.id))?.state).toBe('accepted');
    // notices, status polls and withdrawals are the domain's own: a delegate key does none of them
    const notices = await asDelegate('POST', '/pmtp/v1/notices', {
      v: 1,
      origin: 'b.example',
      destination: 'a.example',
      notices: [],
    });
    expect([notices.status, notices.json.error?.code]).toEqual([403, 'delegation_scope']);
    const withdraw = await asDelegate('DELETE', `/pmtp/v1/notices/${sent.id}?version=1&reason=retracted`);
    expect([withdraw.status, withdraw.json.error?.code]).toEqual([403, 'delegation_scope']);
    const poll = await asDelegate('GET', '/pmtp/v1/status/c00kie-c00kie-c00kie');
    expect([poll.status, poll.json.error?.code]).toEqual([403, 'delegation_scope']);
    // b.example's own key still pulls carol's mail
    const own = await send(
      signedCall({
        key: b.key,
        origin: 'b.example',
        destination: 'a.example',
        method: 'GET',
        url: `${a.endpoint}/pmtp/v1/messages/${sent.id}?view=hash&version=1`,
      }),
    );
    expect(own.status).toBe(200);
  });

  it('once the proof has expired, the delegate key is answered delegation_expired', async () => {
    clockOffsetMs = (VALID_S + 60) * 1000;
    for (const id of [bobMessage, carolMessage]) {
      const pull = await asDelegate('GET', `/pmtp/v1/messages/${id}?view=hash&version=1`);
      expect([pull.status, pull.json.error?.code]).toEqual([403, 'delegation_expired']);
    }
    clockOffsetMs = 0;
  });

  it('does not follow a redirect whose proof names no recipient, nor grant its key', async () => {
    const rt = a.service.context;
    const added: string[] = [];
    const spyRt = {
      ...rt,
      queues: { add: async (_q: string, _d: unknown, o: { jobId: string }) => void added.push(o.jobId) },
    } as unknown as typeof rt;
    const msg = textMessage('alice@a.example', 'dave@b.example', 'x\r\n');
    const sent = await a.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['dave@b.example'],
    });
    await until(async () => (await stateOf(sent.id))?.state === 'accepted');
    await rt.status.notified(sent.id, 1, { 'b.example': ['mallory@b.example'] }, rt.nowS());
    const wideKey = generateDomainKey();
    // signed with b.example's real key: only the missing recipient is wrong
    const wide = {
      v: 1,
      domain: 'b.example',
      endpoint: delegate.endpoint,
      delegate_key: toBase64Url(wideKey.publicKey),
      expires: rt.nowS() + 60,
      key_id: b.key.keyId,
    };
    const proof = { ...wide, sig: signStatement('pmtp1/delegation', wide, b.key.privateKey) };
    const ctx = {
      rt: spyRt,
      job: { action: 'notify' as const, queueId: sent.queueId, domain: 'b.example' },
      id: sent.id,
      version: 1,
      sender: 'alice@a.example',
      endpoint: b.endpoint,
    };
    await applyDisposition(ctx, 'mallory@b.example', {
      disposition: 'redirect',
      endpoint: delegate.endpoint,
      delegation: proof,
    });
    expect(added).toEqual([]);
    const mallory = await rt.status.recipient(sent.id, 'mallory@b.example');
    expect(mallory).toMatchObject({ state: 'rejected', code: 'delegation_invalid' });
    expect(mallory?.text).toContain('delegation_malformed');
    expect(await rt.delegates.find('b.example', wideKey.keyId)).toBeUndefined();
    // a forged proof (not b.example's key) is refused too
    const forged = signDelegation({
      domain: 'b.example',
      recipient: 'mallory@b.example',
      endpoint: 'https://evil.example',
      delegateKey: wideKey.publicKey,
      expires: rt.nowS() + 60,
      privateKey: generateDomainKey().privateKey,
    });
    await rt.status.notified(sent.id, 1, { 'b.example': ['trent@b.example'] }, rt.nowS());
    await applyDisposition(ctx, 'trent@b.example', {
      disposition: 'redirect',
      endpoint: 'https://evil.example',
      delegation: forged,
    });
    expect(await rt.status.recipient(sent.id, 'trent@b.example')).toMatchObject({
      state: 'rejected',
      code: 'delegation_invalid',
    });
    expect(added).toEqual([]);
  });

  it('takes from an answer only the dispositions of the recipients it was sent', async () => {
    const rt = a.service.context;
    const msg = textMessage('alice@a.example', 'erin@b.example', 'y\r\n');
    const sent = await a.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['erin@b.example'],
    });
    await until(async () => (await stateOf(sent.id))?.state === 'accepted');
    await rt.status.notified(sent.id, 1, { 'b.example': ['frank@b.example'] }, rt.nowS());
    const ctx = {
      rt,
      job: { action: 'notify' as const, queueId: sent.queueId, domain: 'b.example' },
      id: sent.id,
      version: 1,
      sender: 'alice@a.example',
      endpoint: delegate.endpoint,
    };
    // a delegate asked about erin answers for frank too: that part is ignored
    const result = {
      id: sent.id,
      version: 1,
      recipients: [
        { recipient: 'erin@b.example', disposition: 'accepted' as const },
        { recipient: 'frank@b.example', disposition: 'rejected' as const, code: 'recipient_unknown', text: 'no' },
      ],
    };
    await applyNoticeResult(ctx, result, ['erin@b.example']);
    expect((await rt.status.recipient(sent.id, 'frank@b.example'))?.state).toBe('notified');
  });
});
