// Edit, retract and give-up before the pull, between real servers: the recipient side holds the
// pull (its workers start later) so the sender acts first.
import { afterEach, describe, expect, it } from 'vitest';
import { MESSAGE_STREAM_TYPE, PATHS } from '../../../src/native/protocol/endpoints.js';
import { MessageStreamReader } from '../../../src/native/protocol/message-framing.js';
import type { PmtpRequestError } from '../../../src/native/protocol/pmtp-request-error.js';
import { type PmtpNode, startPair, textMessage, until } from './harness.js';

describe('before the pull', () => {
  let pair: { a: PmtpNode; b: PmtpNode; close(): Promise<void> } | undefined;
  afterEach(async () => pair?.close());

  async function acceptedAtB(a: PmtpNode, b: PmtpNode, text = 'v1\r\n') {
    const msg = textMessage('alice@a.example', 'bob@b.example', text);
    const sent = await a.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['bob@b.example'],
    });
    await until(async () => (await a.service.context.status.get(sent.id))[0]?.state === 'accepted');
    expect((await b.service.context.inbound.recipient('a.example', sent.id, 'bob@b.example'))?.state).toBe('accepted');
    return { sent, msg };
  }

  it('retract: the recipient drops its pending notice and a later fetch gets 410', async () => {
    pair = await startPair({ b: { workers: false } });
    const { a, b } = pair;
    const { sent } = await acceptedAtB(a, b);
    await a.service.outbox.retract(sent.id);
    expect((await a.service.context.status.get(sent.id))[0]?.state).toBe('retracted');
    await until(
      async () =>
        (await b.service.context.inbound.recipient('a.example', sent.id, 'bob@b.example'))?.state === 'retracted',
    );
    expect(await b.service.context.inbound.head('a.example', sent.id)).toBeUndefined();
    const pull = b.service.context.client.open({
      destination: 'a.example',
      method: 'GET',
      path: `${PATHS.message(sent.id)}?view=full&version=1`,
    });
    await expect(pull).rejects.toMatchObject({
      httpStatus: 410,
      code: 'message_retracted',
    } satisfies Partial<PmtpRequestError>);
    b.startWorkers();
    await new Promise((r) => setTimeout(r, 500));
    expect(b.delivered).toHaveLength(0);
  });

  it('a pull without ?view= gets the full view (§7.2)', async () => {
    pair = await startPair({ b: { workers: false } });
    const { a, b } = pair;
    const { sent, msg } = await acceptedAtB(a, b);
    const pull = await b.service.context.client.open({
      destination: 'a.example',
      method: 'GET',
      path: `${PATHS.message(sent.id)}?version=1`,
    });
    expect(pull.headers.get('content-type')).toBe(MESSAGE_STREAM_TYPE);
    const events = new MessageStreamReader().push(Buffer.from(await pull.response.arrayBuffer()));
    expect(events.filter((e) => e.type === 'error')).toEqual([]);
    const parts = events.flatMap((e) => (e.type === 'end' ? e.parts : []));
    expect(parts).toEqual(msg.manifest.parts.map((_, index) => index));
  });

  it('edit: the recipient pulls only the latest version', async () => {
    pair = await startPair({ b: { workers: false } });
    const { a, b } = pair;
    const { sent } = await acceptedAtB(a, b);
    const v2 = textMessage('alice@a.example', 'bob@b.example', 'v2, corrected\r\n', sent.id, 2);
    await a.service.outbox.edit({ manifest: v2.manifest, body: v2.body, recipients: ['bob@b.example'] });
    await until(
      async () => (await b.service.context.inbound.recipient('a.example', sent.id, 'bob@b.example'))?.version === 2,
    );
    const old = b.service.context.client.open({
      destination: 'a.example',
      method: 'GET',
      path: `${PATHS.message(sent.id)}?view=full&version=1`,
    });
    await expect(old).rejects.toMatchObject({ httpStatus: 410, code: 'version_superseded' });
    b.startWorkers();
    await until(async () => (await a.service.context.status.get(sent.id))[0]?.state === 'delivered');
    expect(b.delivered).toHaveLength(1);
    expect(b.delivered[0]?.request.manifest.version).toBe(2);
    expect(b.delivered[0]?.parts[0]?.toString()).toBe('v2, corrected\r\n');
  });

  it('give-up: the recipient stops waiting', async () => {
    pair = await startPair({ b: { workers: false } });
    const { a, b } = pair;
    const { sent } = await acceptedAtB(a, b);
    await a.service.outbox.retract(sent.id, 'given_up');
    expect((await a.service.context.status.get(sent.id))[0]?.state).toBe('given-up');
    await until(
      async () =>
        (await b.service.context.inbound.recipient('a.example', sent.id, 'bob@b.example'))?.state === 'given-up',
    );
  });
});
