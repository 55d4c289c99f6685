// First-contact challenges between two real gateways: mail whose author is outside the origin
// (a mailing list relayed in) passes after one solve, or on a token when DMARC passed; a solution
// survives the poll → resend; a challenge bound to another notice is refused unsolved; recipients
// set their own difficulty; a key rotation between challenge and answer keeps the challenge valid.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchUrl, PATHS } from '../../../src/native/protocol/endpoints.js';
import type { Manifest } from '../../../src/native/protocol/message-format.js';
import { batchResponseSchema, type Notice } from '../../../src/native/protocol/notice.js';
import { issueChallenge, solveChallenge } from '../../../src/native/protocol/proof-of-work.js';
import { serverInfo } from '../../../src/native/server/well-known-routes.js';
import { applyDisposition } from '../../../src/native/workers/notice-outcomes.js';
import { testPrefix } from '../../support/redis.js';
import { freePort } from '../../support/smtp-sink.js';
import { tempDir } from '../../support/tmp.js';
import { type PmtpNode, startNode, startPair, textMessage, until } from './harness.js';

function listMessage(to: string, text: string, dmarc: 'none' | 'pass' = 'none'): { manifest: Manifest; body: Buffer } {
  const msg = textMessage('list@lists.example', to, text);
  return {
    body: msg.body,
    manifest: {
      ...msg.manifest,
      // relayed in from a Postfix in front: no DMARC pass for the list's domain
      provenance: {
        spf: { result: 'none', domain: 'lists.example' },
        dkim: [],
        dmarc: { result: dmarc, domain: 'lists.example' },
        arc: { result: 'none' },
        client_ip: '192.0.2.25',
        helo: 'mail.lists.example',
        mail_from: 'list-bounces@lists.example',
        rcpt_to: [to],
        received_at: Math.floor(Date.now() / 1000),
        gateway: 'a.example',
      },
    },
  };
}

/** Counts the challenges `node` solves (the real solver still does the work). */
function countSolves(node: PmtpNode): { readonly count: number } {
  const solver = node.service.context.powSolver;
  const solve = solver.solve.bind(solver);
  const counter = { count: 0 };
  solver.solve = (...args) => {
    counter.count++;
    return solve(...args);
  };
  return counter;
}

/** Sends one notice from `from` to b.example itself, returning the dispositions. */
async function postNotice(from: PmtpNode, notice: Notice) {
  const answer = await from.service.context.client.json(
    {
      destination: 'b.example',
      method: 'POST',
      path: PATHS.notices,
      body: { origin: 'a.example', destination: 'b.example', notices: [notice] },
      signedResponse: true,
    },
    batchResponseSchema,
  );
  const result = answer.results[0]!;
  if ('error' in result) throw new Error(result.error.code);
  return result.recipients;
}

async function settle(node: PmtpNode, id: string) {
  return until(async () => {
    const s = (await node.service.context.status.get(id))[0];
    return s && ['delivered', 'rejected', 'expired', 'given-up'].includes(s.state) ? s : undefined;
  }, 20_000);
}

describe('first contact: third-party authors', () => {
  let a: PmtpNode;
  let b: PmtpNode;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ a, b, close } = await startPair({
      b: {
        firstContact: { default: 'challenge', pow_bits: 8, users: [{ address: 'heidi@b.example', pow_bits: 12 }] },
        pmtp: { defer_min_poll_s: 1, defer_max_poll_s: 30, trusted_gateways: ['a.example'] },
      },
    }));
  });
  afterAll(async () => close());

  it('list mail relayed by the origin passes after one solved challenge', async () => {
    const msg = listMessage('bob@b.example', 'from the list\r\n');
    const sent = await a.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['bob@b.example'],
    });
    expect(await settle(a, sent.id)).toMatchObject({ state: 'delivered' });
    expect(b.delivered.at(-1)?.request.manifest.id).toBe(sent.id);
    expect(b.delivered.at(-1)?.request.trustClass).toBe('challenged');
  });

  it('keeps the solution found after a poll for the resend: one solve in all', async () => {
    const solves = countSolves(a);
    const msg = listMessage('carol@b.example', 'from the list again\r\n');
    const sent = await a.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['carol@b.example'],
    });
    expect(await settle(a, sent.id)).toMatchObject({ state: 'delivered' });
    expect(solves.count).toBe(1);
  });

  it('weighs a sender token for an author whose provenance shows a DMARC pass: no challenge', async () => {
    const solves = countSolves(a);
    const rt = b.service.context;
    const issued = await rt.tokens.issue(
      {
        issuer: 'b.example',
        recipient: 'kim@b.example',
        scope: { address: 'list@lists.example' },
        expires: rt.nowS() + 3600,
      },
      rt.keys.current.privateKey,
      rt.nowS(),
    );
    const msg = listMessage('kim@b.example', 'announced\r\n', 'pass');
    const sent = await a.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['kim@b.example'],
      tokens: [issued.token],
    });
    expect(await settle(a, sent.id)).toMatchObject({ state: 'delivered' });
    expect(b.delivered.at(-1)?.request.trustClass).toBe('token');
    expect(solves.count).toBe(0);
  });

  it("asks each recipient's own difficulty", async () => {
    const rt = a.service.context;
    const id = 'perrecipientbits000000';
    const answers = await postNotice(a, {
      id,
      version: 1,
      size: 3,
      manifest_digest: 'MeH6W6ozcsF7YCOc5yXsM5pY0T_xMCgxJQyloamE_O4',
      sender: 'alice@a.example',
      recipients: ['heidi@b.example', 'ivan@b.example'],
      expires: rt.nowS() + 3600,
      fetch: fetchUrl(a.endpoint, id),
    });
    // the server document announces the hardest of them
    expect(serverInfo(b.service.context).max_pow_bits).toBe(12);
    expect(answers.map((d) => (d.disposition === 'challenge' ? [d.recipient, d.challenge.bits] : d))).toEqual([
      ['heidi@b.example', 12],
      ['ivan@b.example', 8],
    ]);
  });

  it('refuses a challenge bound to another notice, sender or recipient without solving it', async () => {
    const msg = textMessage('alice@a.example', 'dave@b.example', 'x\r\n');
    const sent = await a.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['dave@b.example'],
    });
    await settle(a, sent.id);
    const solves = countSolves(a);
    const rt = a.service.context;
    const others = ['erin@b.example', 'frank@b.example', 'grace@b.example'];
    await rt.status.notified(sent.id, 1, { 'b.example': others }, rt.nowS());
    const ctx = {
      rt,
      job: { action: 'notify' as const, queueId: sent.queueId, domain: 'b.example' },
      id: sent.id,
      version: 1,
      sender: 'alice@a.example',
      endpoint: b.endpoint,
    };
    const challenge = (over: { noticeId?: string; sender?: string; recipient: string }) =>
      issueChallenge({
        bits: 20,
        salt: new Uint8Array(16).fill(7),
        noticeId: over.noticeId ?? sent.id,
        sender: over.sender ?? 'alice@a.example',
        recipient: over.recipient,
        expires: rt.nowS() + 600,
        secret: new Uint8Array(32),
      });
    const wrong = [
      challenge({ recipient: 'erin@b.example', noticeId: 'another0notice0id0xxxx' }),
      challenge({ recipient: 'frank@b.example', sender: 'mallory@a.example' }),
      challenge({ recipient: 'bob@b.example' }),
    ];
    for (const [i, recipient] of others.entries())
      expect(
        await applyDisposition(ctx, recipient, { disposition: 'challenge', challenge: wrong[i]! }),
      ).toBeUndefined();
    expect(solves.count).toBe(0);
    for (const recipient of others)
      expect(await rt.status.recipient(sent.id, recipient)).toMatchObject({
        state: 'rejected',
        code: 'challenge_wrong_binding',
      });
    // a rightly bound one is solved once, however often the peer repeats it
    await rt.status.notified(sent.id, 1, { 'b.example': ['judy@b.example'] }, rt.nowS());
    const repeated = {
      disposition: 'challenge' as const,
      challenge: { ...challenge({ recipient: 'judy@b.example' }), bits: 8 },
    };
    const first = await applyDisposition(ctx, 'judy@b.example', repeated);
    expect(await applyDisposition(ctx, 'judy@b.example', repeated)).toEqual(first);
    expect(first?.solution).toBeDefined();
    expect(solves.count).toBe(1);
  });
});

describe('first contact: key rotation between challenge and answer', () => {
  let a: PmtpNode;
  let b: PmtpNode | undefined;
  let removeDir: () => Promise<void>;
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await removeDir?.();
  });

  it('a challenge issued under the old domain key still verifies under the new one', async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    const folder = await tempDir('pmtp-b-rotation');
    removeDir = folder.remove;
    const state = { dir: folder.dir, prefix: testPrefix() };
    const bOptions = {
      domain: 'b.example',
      port: pb,
      peers: { 'a.example': { endpoint: `http://127.0.0.1:${pa}` } },
      firstContact: { default: 'challenge', pow_bits: 8 },
      state,
    };
    // a's workers stay off: this test sends the notice itself, before and after b's rotation
    a = await startNode({
      domain: 'a.example',
      port: pa,
      peers: { 'b.example': { endpoint: `http://127.0.0.1:${pb}` } },
      workers: false,
    });
    b = await startNode(bOptions);
    const msg = textMessage('alice@a.example', 'bob@b.example', 'across a rotation\r\n');
    const sent = await a.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['bob@b.example'],
    });
    const rt = a.service.context;
    const notice: Notice = {
      id: sent.id,
      version: 1,
      size: msg.body.length,
      manifest_digest: sent.digest,
      sender: 'alice@a.example',
      recipients: ['bob@b.example'],
      expires: rt.nowS() + 3600,
      fetch: fetchUrl(a.endpoint, sent.id),
    };
    const post = async (n: Notice) => (await postNotice(a, n))[0]!;
    // what a's notice worker records before it sends: b may pull this message
    await rt.outbox.setDomain(sent.id, 'b.example', 1, ['bob@b.example'], true);
    const first = await post(notice);
    if (first.disposition !== 'challenge') throw new Error(`expected a challenge, got ${first.disposition}`);
    const oldKeyId = b.service.context.keys.current.keyId;
    await b.close();
    // the rotation as an operator does it: a new key file, the old one published as retired
    const retired = path.join(folder.dir, 'retired.key');
    await writeFile(retired, b.key.privatePem, { mode: 0o600 });
    b = await startNode({
      ...bOptions,
      pmtp: { retired_keys: [{ key_file: retired, expired_at: rt.nowS() + 3600 }] },
    });
    expect(b.service.context.keys.current.keyId).not.toBe(oldKeyId);
    // a would refetch b's key set on its own within a minute; the test does not wait for that
    rt.directory.forget('b.example');
    const solution = solveChallenge(first.challenge)!;
    const answered = await post({ ...notice, pow: [{ challenge: first.challenge, solution }] });
    expect(answered).toMatchObject({ disposition: 'accepted' });
    a.startWorkers();
    expect(await settle(a, sent.id)).toMatchObject({ state: 'delivered' });
    expect(b.delivered.at(-1)?.request.trustClass).toBe('challenged');
  });
});
