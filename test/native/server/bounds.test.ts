// Bounds between real servers on loopback with real Redis: batch and recipient limits answer 413, an
// origin's budget is spent per recipient and bites with 429 + Retry-After, pulls of notified mail are
// never charged, failed authentication is counted per IPv6 /64 and key fetches per client, per-origin
// caps on deferred notices and queued pulls answer 429 backlog_full (a finished pull frees its slot),
// and a puller told Retry-After 1 comes back without spending an attempt.
import { afterEach, describe, expect, it } from 'vitest';
import { pullJobId } from '../../../src/mail/jobs.js';
import { generateDomainKey } from '../../../src/native/protocol/domain-keys.js';
import { fetchUrl, PATHS } from '../../../src/native/protocol/endpoints.js';
import { buildPmtpApp } from '../../../src/native/server/app.js';
import { freePort } from '../../support/smtp-sink.js';
import { type PmtpNode, startNode, textMessage, until } from './harness.js';
import { send, signedCall } from './raw-request.js';

const DIGEST = 'MeH6W6ozcsF7YCOc5yXsM5pY0T_xMCgxJQyloamE_O4';

/** Waits out the last seconds of a rate window, so a test's spends all land in one window. */
async function freshWindow(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 10_000) await new Promise((r) => setTimeout(r, left + 50));
}

describe('PMTP/1 bounds', () => {
  const nodes: PmtpNode[] = [];
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.close()));
  });

  async function pair(a: Record<string, unknown>, b: Record<string, unknown>, opts: { bWorkers?: boolean } = {}) {
    const [pa, pb] = [await freePort(), await freePort()];
    const na = await startNode({
      domain: 'a.example',
      port: pa,
      peers: { 'b.example': { endpoint: `http://127.0.0.1:${pb}` } },
      pmtp: a,
    });
    nodes.push(na);
    const nb = await startNode({
      domain: 'b.example',
      port: pb,
      peers: { 'a.example': { endpoint: `http://127.0.0.1:${pa}` } },
      pmtp: b,
      workers: opts.bWorkers ?? true,
    });
    nodes.push(nb);
    return { a: na, b: nb };
  }

  let serial = 0;
  const notice = (a: PmtpNode, recipients: string[], sender = 'alice@a.example') => {
    const id = `bnd${Date.now().toString(36)}${(serial++).toString(36).padStart(5, '0')}xxxxxxx`.slice(0, 22);
    return {
      id,
      version: 1,
      size: 3,
      manifest_digest: DIGEST,
      sender,
      recipients,
      expires: Math.floor(Date.now() / 1000) + 3600,
      fetch: fetchUrl(a.endpoint, id),
    };
  };
  const postNotices = (a: PmtpNode, b: PmtpNode, notices: unknown[]) =>
    send(
      signedCall({
        key: a.key,
        origin: 'a.example',
        destination: 'b.example',
        method: 'POST',
        url: `${b.endpoint}${PATHS.notices}`,
        body: { origin: 'a.example', destination: 'b.example', notices },
      }),
    );

  it('answers 413 batch_too_large past max_batch (default 50) and past max_batch_recipients', async () => {
    const { a, b } = await pair({}, { max_batch_recipients: 10 }, { bWorkers: false });
    const info = await (await fetch(`${b.endpoint}${PATHS.server}`)).json();
    expect(info).toMatchObject({ max_batch: 50, max_recipients: 1000, max_batch_recipients: 10 });
    const tooMany = await postNotices(
      a,
      b,
      Array.from({ length: 51 }, () => notice(a, ['bob@b.example'])),
    );
    expect(tooMany.status).toBe(413);
    expect(tooMany.json.error.code).toBe('batch_too_large');
    const recipients = Array.from({ length: 11 }, (_, i) => `user${i}@b.example`);
    const wide = await postNotices(a, b, [notice(a, recipients.slice(0, 6)), notice(a, recipients.slice(6))]);
    expect(wide.status).toBe(413);
    expect(wide.json.error.code).toBe('batch_too_large');
    // within both limits the same server answers
    const fine = await postNotices(a, b, [notice(a, recipients.slice(0, 10))]);
    expect(fine.status).toBe(200);
  });

  it("splits our notice batches at the peer's max_batch_recipients", async () => {
    const { a, b } = await pair({}, { max_batch_recipients: 3 });
    const ids = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const msg = textMessage('alice@a.example', 'bob@b.example', `two of us ${i}\r\n`);
        const recipients = ['bob@b.example', 'carol@b.example'];
        return (await a.service.outbox.submit({ manifest: msg.manifest, body: msg.body, recipients })).id;
      }),
    );
    for (const id of ids)
      await until(async () => (await a.service.context.status.get(id)).every((s) => s.state === 'delivered'));
    expect(b.delivered).toHaveLength(6);
  });

  it('spends an origin budget per recipient: 5 recipients pass, the sixth is 429 rate_limited with Retry-After', async () => {
    const { a, b } = await pair({}, { rate_limits: { peer_per_minute: 5 } }, { bWorkers: false });
    await freshWindow();
    const first = await postNotices(a, b, [
      notice(a, ['u1@b.example', 'u2@b.example']),
      notice(a, ['u3@b.example', 'u4@b.example', 'u5@b.example']),
    ]);
    expect(first.status).toBe(200);
    const second = await postNotices(a, b, [notice(a, ['u6@b.example'])]);
    expect(second.status).toBe(429);
    expect(second.json.error).toMatchObject({ code: 'rate_limited', retryable: true });
    const retryAfter = Number(second.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
  });

  it('never charges pulls of notified mail; refused pulls spend the budget and then meet 429', async () => {
    // a limits b to 3 units a minute; b never pulls on its own (no workers)
    const { a, b } = await pair({ rate_limits: { peer_per_minute: 3 } }, {}, { bWorkers: false });
    await freshWindow();
    const msg = textMessage('alice@a.example', 'bob@b.example', 'pull me often\r\n');
    const { id } = await a.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['bob@b.example'],
    });
    await until(async () => (await a.service.context.status.get(id))[0]?.state === 'accepted');
    const pull = (messageId: string) =>
      send(
        signedCall({
          key: b.key,
          origin: 'b.example',
          destination: 'a.example',
          method: 'GET',
          url: `${a.endpoint}${PATHS.message(messageId)}?view=hash`,
        }),
      );
    const statuses = [];
    for (let i = 0; i < 20; i++) statuses.push((await pull(id)).status);
    expect(statuses).toEqual(Array(20).fill(200));
    const stranger = [];
    for (let i = 0; i < 4; i++) stranger.push(await pull(`never${i}xxxxxxxxxxxxxxxxxx`.slice(0, 22)));
    expect(stranger.slice(0, 3).map((r) => r.json.error.code)).toEqual([
      'not_notified',
      'not_notified',
      'not_notified',
    ]);
    expect(stranger[3]!.status).toBe(429);
    expect(stranger[3]!.headers.get('retry-after')).toMatch(/^\d+$/);
    // and the notified pull still goes through
    expect((await pull(id)).status).toBe(200);
  });

  it('counts failed authentication per IPv6 /64: rotating addresses in one prefix buys nothing', async () => {
    const { b } = await pair({}, { rate_limits: { unauthenticated_per_minute: 4 } }, { bWorkers: false });
    await freshWindow();
    // fastify's inject lets the request come from any address; the app, Redis and keys are b's own
    const app = buildPmtpApp(b.service.context);
    await app.ready();
    try {
      const from = (remoteAddress: string) =>
        app.inject({
          method: 'POST',
          url: PATHS.notices,
          remoteAddress,
          payload: '{}',
          headers: { 'content-type': 'application/json' },
        });
      const codes = [];
      for (let i = 1; i <= 5; i++) {
        const res = await from(`2001:db8:5:6:${i.toString(16)}::${i}`);
        codes.push(`${res.statusCode} ${res.json().error.code}`);
      }
      expect(codes.slice(0, 4)).toEqual(Array(4).fill('401 signature_missing'));
      expect(codes[4]).toBe('429 rate_limited');
      const other = await from('2001:db8:5:7::1');
      expect(other.statusCode).toBe(401);
    } finally {
      await app.close();
    }
  });

  it('caps deferred notices per origin: past the cap the batch is 429 backlog_full, a repeat still answers', async () => {
    const { a, b } = await pair({}, { max_deferred_per_origin: 2 }, { bWorkers: false });
    // a gateway's converted mail: the author is outside the origin, so each notice waits for a decision
    const held = [
      notice(a, ['bob@b.example'], 'x@elsewhere.example'),
      notice(a, ['bob@b.example'], 'y@elsewhere.example'),
    ];
    const first = await postNotices(a, b, held);
    expect(first.status).toBe(200);
    expect(
      first.json.results.map((r: { recipients: { disposition: string }[] }) => r.recipients[0]?.disposition),
    ).toEqual(['deferred', 'deferred']);
    const third = notice(a, ['bob@b.example'], 'z@elsewhere.example');
    const refused = await postNotices(a, b, [third]);
    expect(refused.status).toBe(429);
    expect(refused.json.error).toMatchObject({ code: 'backlog_full', retryable: true });
    expect(refused.headers.get('retry-after')).toBe('30');
    // nothing was stored for the refused notice: no head, no recipient, no cookie
    expect(await b.service.context.inbound.head('a.example', third.id)).toBeUndefined();
    const again = await postNotices(a, b, [held[0]]);
    expect(again.status).toBe(200);
    expect(again.json.results[0].recipients[0].disposition).toBe('deferred');
    // notices from the origin's own users are a separate cap (pulls)
    expect((await postNotices(a, b, [notice(a, ['bob@b.example'])])).status).toBe(200);
  });

  it('caps queued pulls per origin, and a finished pull job gives its slot back', async () => {
    const { a, b } = await pair({}, { max_pulls_per_origin: 1 }, { bWorkers: false });
    const first = await postNotices(a, b, [notice(a, ['bob@b.example'])]);
    expect(first.json.results[0].recipients[0].disposition).toBe('accepted');
    const refused = await postNotices(a, b, [notice(a, ['bob@b.example'])]);
    expect(refused.status).toBe(429);
    expect(refused.json.error.code).toBe('backlog_full');
    // the first pull runs and ends (a never sent that message: 403 not_notified), freeing the slot
    b.startWorkers();
    const next = await until(async () => {
      const res = await postNotices(a, b, [notice(a, ['bob@b.example'])]);
      return res.status === 200 ? res : undefined;
    });
    expect(next.json.results[0].recipients[0].disposition).toBe('accepted');
  });

  it('limits key fetches for unknown origins per client address group; a cached failure costs none', async () => {
    const { b } = await pair({}, { rate_limits: { key_fetches_per_minute: 2 } }, { bWorkers: false });
    await freshWindow();
    const stranger = generateDomainKey();
    const from = (origin: string) =>
      send(
        signedCall({
          key: stranger,
          origin,
          destination: 'b.example',
          method: 'GET',
          url: `${b.endpoint}/pmtp/v1/status/cookiecookiecookiecookie`,
        }),
      );
    // neither domain has a discovery record: each lookup fails (502, not retryable: only the origin
    // can fix it), and the failure is remembered
    const missing = await from('x1.example');
    expect([missing.status, missing.json.error]).toEqual([
      502,
      expect.objectContaining({ code: 'discovery_record_missing', retryable: false }),
    ]);
    expect((await from('x2.example')).json.error.code).toBe('discovery_record_missing');
    const third = await from('x3.example');
    expect(third.status).toBe(429);
    expect(third.json.error.code).toBe('rate_limited');
    expect(third.headers.get('retry-after')).toMatch(/^\d+$/);
    // x1's failure is answered from memory: no fetch, no budget
    expect((await from('x1.example')).json.error.code).toBe('discovery_record_missing');
  });

  it('a puller told 429 Retry-After 1 comes back after it, with no attempt spent', async () => {
    // a's clock stands one second before a minute ends, so each 429 it answers says Retry-After 1
    const standing = Math.ceil(Date.now() / 60_000) * 60_000 - 1000;
    const [pa, pb] = [await freePort(), await freePort()];
    const a = await startNode({
      domain: 'a.example',
      port: pa,
      peers: { 'b.example': { endpoint: `http://127.0.0.1:${pb}` } },
      // the standing clock may be up to a minute ahead of b's
      pmtp: { clock_skew_s: 120, rate_limits: { unauthenticated_per_minute: 1 } },
      now: () => standing,
    });
    nodes.push(a);
    const b = await startNode({
      domain: 'b.example',
      port: pb,
      peers: { 'a.example': { endpoint: `http://127.0.0.1:${pa}` } },
      pmtp: { clock_skew_s: 120 },
    });
    nodes.push(b);
    // loopback has failed authentication at a all this minute: every request from it meets 429
    const spent = `${a.config.redis.prefix}:pmtp:rate:unauthenticated:127.0.0.1:${Math.floor(standing / 60_000)}`;
    await a.redis.set(spent, '100', 'EX', 300);
    const msg = textMessage('alice@a.example', 'bob@b.example', 'after the wait\r\n');
    const { id } = await a.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['bob@b.example'],
    });
    const pulls = b.service.context.queues.queue('pull');
    const jobId = pullJobId('a.example', id, 1);
    const delayed = `${b.config.redis.prefix}:pull:delayed`;
    // BullMQ scores a delayed job by the millisecond it is due, times 4096
    const due = await until(async () => {
      const score = await b.redis.zscore(delayed, jobId);
      return score === null ? undefined : { dueMs: Math.floor(Number(score) / 4096), seenMs: Date.now() };
    });
    expect(due.dueMs - due.seenMs).toBeLessThanOrEqual(1000);
    expect(due.dueMs - due.seenMs).toBeGreaterThan(0);
    expect((await pulls.getJob(jobId))?.attemptsMade).toBe(0);
    await a.redis.del(spent);
    const seenAt = Date.now();
    await until(async () => (await a.service.context.status.get(id))[0]?.state === 'delivered');
    const after = await until(async () => {
      const j = await pulls.getJob(jobId);
      return j && (await j.getState()) === 'completed' ? j : undefined;
    });
    // BullMQ counts the run that completed as an attempt: one, though it ran more than once
    expect(after.attemptsMade).toBe(1);
    expect(after.attemptsStarted).toBeGreaterThanOrEqual(2);
    expect(Date.now() - seenAt).toBeLessThan(10_000);
  });
});
