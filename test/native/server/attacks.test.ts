// Request authentication between real servers: forged, replayed and mis-addressed notices,
// unsigned and wrong-domain pulls, expired signatures, and hostile bodies (413/400, server up).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDomainKey } from '../../../src/native/protocol/domain-keys.js';
import { fetchUrl, PATHS } from '../../../src/native/protocol/endpoints.js';
import { freePort } from '../../support/smtp-sink.js';
import { type PmtpNode, startNode, textMessage, until } from './harness.js';
import { send, signedCall } from './raw-request.js';

describe('PMTP/1 request authentication', () => {
  let a: PmtpNode;
  let b: PmtpNode;
  let c: PmtpNode;
  let messageId: string;
  let sharedId: string;
  beforeAll(async () => {
    const [pa, pb, pc] = [await freePort(), await freePort(), await freePort()];
    a = await startNode({
      domain: 'a.example',
      port: pa,
      peers: {
        'b.example': { endpoint: `http://127.0.0.1:${pb}` },
        'c.example': { endpoint: `http://127.0.0.1:${pc}` },
      },
      pmtp: { max_body_bytes: 65_536 },
    });
    b = await startNode({
      domain: 'b.example',
      port: pb,
      peers: { 'a.example': { endpoint: `http://127.0.0.1:${pa}` } },
      pmtp: { max_body_bytes: 65_536 },
    });
    // c accepts but never pulls, so a message to b and c stays stored after b's delivery
    c = await startNode({
      domain: 'c.example',
      port: pc,
      peers: { 'a.example': { endpoint: `http://127.0.0.1:${pa}` } },
      workers: false,
    });
    const msg = textMessage('alice@a.example', 'bob@b.example', 'hi\r\n');
    messageId = (
      await a.service.outbox.submit({ manifest: msg.manifest, body: msg.body, recipients: ['bob@b.example'] })
    ).id;
    await until(async () => (await a.service.context.status.get(messageId))[0]?.state === 'delivered');
    const both = textMessage('alice@a.example', 'bob@b.example', 'hi both\r\n');
    sharedId = (
      await a.service.outbox.submit({
        manifest: both.manifest,
        body: both.body,
        recipients: ['bob@b.example', 'carol@c.example'],
      })
    ).id;
    await until(
      async () =>
        (await a.service.context.status.get(sharedId)).find((s) => s.recipient === 'bob@b.example')?.state ===
        'delivered',
    );
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close(), c?.close()]);
  });

  const batch = (id: string) => ({
    origin: 'a.example',
    destination: 'b.example',
    notices: [
      {
        id,
        version: 1,
        size: 3,
        manifest_digest: 'MeH6W6ozcsF7YCOc5yXsM5pY0T_xMCgxJQyloamE_O4',
        sender: 'alice@a.example',
        recipients: ['bob@b.example'],
        expires: Math.floor(Date.now() / 1000) + 3600,
        fetch: fetchUrl(a.endpoint, id),
      },
    ],
  });
  const noticesUrl = () => `${b.endpoint}${PATHS.notices}`;

  it("refuses a forged notice (signed with a key that is not a.example's)", async () => {
    const forger = { ...generateDomainKey(), keyId: a.key.keyId };
    const res = await send(
      signedCall({
        key: forger,
        origin: 'a.example',
        destination: 'b.example',
        method: 'POST',
        url: noticesUrl(),
        body: batch('forgedforgedforged01'),
      }),
    );
    expect(res.status).toBe(401);
    expect(res.json.error).toMatchObject({ code: 'signature_invalid', retryable: false });
    const unknown = await send(
      signedCall({
        key: generateDomainKey(),
        origin: 'a.example',
        destination: 'b.example',
        method: 'POST',
        url: noticesUrl(),
        body: batch('forgedforgedforged02'),
      }),
    );
    expect(unknown.json.error.code).toBe('unknown_key');
  });

  it('refuses a replayed notice', async () => {
    const call = signedCall({
      key: a.key,
      origin: 'a.example',
      destination: 'b.example',
      method: 'POST',
      url: noticesUrl(),
      body: batch('replayreplayreplay01'),
    });
    expect((await send(call)).status).toBe(200);
    const again = await send(call);
    expect(again.status).toBe(401);
    expect(again.json.error.code).toBe('nonce_replayed');
  });

  it('refuses a notice replayed to another domain', async () => {
    const call = signedCall({
      key: a.key,
      origin: 'a.example',
      destination: 'b.example',
      method: 'POST',
      url: noticesUrl(),
      body: batch('elsewhereelsewhere01'),
    });
    const res = await send({ ...call, url: `${c.endpoint}${PATHS.notices}` });
    expect(res.status).toBe(401);
    expect(res.json.error.code).toBe('wrong_destination');
  });

  it('answers an unsigned fetch 401, a fetch by an un-notified domain 403, an expired signature 401', async () => {
    const url = `${a.endpoint}${PATHS.message(messageId)}?view=full&version=1`;
    const unsigned = await send({ url, method: 'GET', headers: {} });
    expect(unsigned.status).toBe(401);
    expect(unsigned.json.error.code).toBe('signature_missing');
    const wrongDomain = await send(
      signedCall({ key: c.key, origin: 'c.example', destination: 'a.example', method: 'GET', url }),
    );
    expect(wrongDomain.status).toBe(403);
    expect(wrongDomain.json.error.code).toBe('not_notified');
    const old = Math.floor(Date.now() / 1000) - 3600;
    const expired = await send(
      signedCall({
        key: b.key,
        origin: 'b.example',
        destination: 'a.example',
        method: 'GET',
        url,
        created: old,
        expires: old + 60,
      }),
    );
    expect(expired.status).toBe(401);
    expect(expired.json.error.code).toBe('signature_expired');
    const hashUrl = `${a.endpoint}${PATHS.message(sharedId)}?view=hash&version=1`;
    const fine = await send(
      signedCall({ key: b.key, origin: 'b.example', destination: 'a.example', method: 'GET', url: hashUrl }),
    );
    expect(fine.status).toBe(200);
    expect(fine.json).toMatchObject({ id: sharedId, version: 1 });
  });

  it('serves one part with Range', async () => {
    const url = `${a.endpoint}${PATHS.part(sharedId, 1)}?version=1`;
    const call = signedCall({ key: b.key, origin: 'b.example', destination: 'a.example', method: 'GET', url });
    const res = await fetch(url, { headers: { ...call.headers, range: 'bytes=2-4' } });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe('bytes 2-4/8');
    expect(Buffer.from(await res.arrayBuffer())).toEqual(Buffer.from([0x0a, 0x0d, 0x2e]));
  });

  it('answers oversized and malformed bodies with typed 413/400 and stays up', async () => {
    const big = await send(
      signedCall({
        key: a.key,
        origin: 'a.example',
        destination: 'b.example',
        method: 'POST',
        url: noticesUrl(),
        body: Buffer.alloc(200_000, 0x20),
      }),
    );
    expect(big.status).toBe(413);
    expect(big.json.error.code).toBe('payload_too_large');
    const garbage = await send(
      signedCall({
        key: a.key,
        origin: 'a.example',
        destination: 'b.example',
        method: 'POST',
        url: noticesUrl(),
        body: Buffer.from('{"notices": ['),
      }),
    );
    expect(garbage.status).toBe(400);
    expect(garbage.json.error.code).toBe('batch_invalid');
    const wrongShape = await send(
      signedCall({
        key: a.key,
        origin: 'a.example',
        destination: 'b.example',
        method: 'POST',
        url: noticesUrl(),
        body: { notices: 'x' },
      }),
    );
    expect(wrongShape.status).toBe(400);
    const headers = await send({
      url: noticesUrl(),
      method: 'POST',
      headers: { 'signature-input': 'pmtp=(', signature: 'x', 'content-type': 'application/json' },
      body: Buffer.from('{}'),
    });
    expect(headers.status).toBe(401);
    expect(headers.json.error.code).toBe('signature_malformed');
    const info = await fetch(`${b.endpoint}${PATHS.server}`);
    expect(info.status).toBe(200);
  });
});
