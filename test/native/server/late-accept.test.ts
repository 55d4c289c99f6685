// A recipient accepted after its version's pull job already finished (a challenge solved later),
// between two real servers: the finished job must not swallow the new pull, so the stored copy
// (kept while a recipient is undecided) reaches the late recipient too.
import { afterEach, describe, expect, it } from 'vitest';
import { NoticeBatcher } from '../../../src/native/client/notice-batcher.js';
import { fetchUrl } from '../../../src/native/protocol/endpoints.js';
import type { Notice } from '../../../src/native/protocol/notice.js';
import { solveChallenge } from '../../../src/native/protocol/proof-of-work.js';
import { type PmtpNode, startPair, textMessage, until } from './harness.js';

const bob = 'bob@b.example';
const carol = 'carol@b.example';

describe('a recipient accepted after the pull', () => {
  let pair: { a: PmtpNode; b: PmtpNode; close(): Promise<void> } | undefined;
  afterEach(async () => pair?.close());

  it('is pulled and delivered too', async () => {
    // a's notices are sent by hand below, so the challenge is answered only after bob's pull ended
    pair = await startPair({
      a: { workers: false },
      b: { firstContact: { users: [{ address: carol, default: 'challenge' }] } },
    });
    const { a, b } = pair;
    const msg = textMessage('alice@a.example', bob, 'hello\r\n');
    const sent = await a.service.outbox.submit({ manifest: msg.manifest, body: msg.body, recipients: [bob, carol] });
    await a.service.context.outbox.setDomain(sent.id, 'b.example', 1, [bob, carol], true);
    const notice: Notice = {
      id: sent.id,
      version: 1,
      size: msg.body.length,
      manifest_digest: sent.digest,
      sender: 'alice@a.example',
      recipients: [bob, carol],
      expires: Math.floor(Date.now() / 1000) + 3600,
      fetch: fetchUrl(a.endpoint, sent.id),
    };
    const batcher = new NoticeBatcher(a.service.context.client, 'a.example');
    const first = await batcher.send('b.example', b.endpoint, notice);
    if ('error' in first) throw new Error(first.error.message);
    const challenge = first.recipients.find((r) => r.recipient === carol);
    if (challenge?.disposition !== 'challenge') throw new Error('carol was not challenged');
    await until(async () => (await a.service.context.status.recipient(sent.id, bob))?.state === 'delivered');

    const solution = solveChallenge(challenge.challenge);
    if (solution === undefined) throw new Error('unsolved');
    const again = await batcher.send('b.example', b.endpoint, {
      ...notice,
      recipients: [carol],
      pow: [{ challenge: challenge.challenge, solution }],
    });
    expect(again).toMatchObject({ recipients: [{ recipient: carol, disposition: 'accepted' }] });
    await until(async () => (await a.service.context.status.recipient(sent.id, carol))?.state === 'delivered');
    expect(b.delivered.map((d) => d.request.recipients)).toEqual([[bob], [carol]]);
  });
});
