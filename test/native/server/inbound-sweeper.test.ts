// The recipient side's sweeper against two real servers: a notice past its expiry that was never
// pulled expires, a pulled copy whose recipients were all withdrawn leaves the spool, and a copy a
// recipient still waits for stays; one gateway sweeps per interval.
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { pullJobId } from '../../../src/mail/jobs.js';
import type { Submitted } from '../../../src/native/outbox/pmtp-outbox.js';
import { InboundSweeper } from '../../../src/native/workers/inbound-sweeper.js';
import { type PmtpNode, startPair, textMessage, until } from './harness.js';

const bob = 'bob@b.example';
const DAY_S = 86_400;

describe('recipient-side sweeper', () => {
  let pair: { a: PmtpNode; b: PmtpNode; close(): Promise<void> } | undefined;
  afterEach(async () => pair?.close());

  /** b's sweeper, its clock `aheadS` seconds in the future. */
  function sweeperOf(b: PmtpNode, aheadS = 0): InboundSweeper {
    const context = b.service.context;
    return new InboundSweeper({ ...context, nowS: () => context.nowS() + aheadS }, b.redis, {
      intervalMs: 60_000,
      graceMs: 60_000,
      prefix: b.config.redis.prefix,
    });
  }

  async function acceptedAtB(a: PmtpNode, b: PmtpNode): Promise<Submitted> {
    const msg = textMessage('alice@a.example', bob, 'hello\r\n');
    const sent = await a.service.outbox.submit({ manifest: msg.manifest, body: msg.body, recipients: [bob] });
    await until(
      async () => (await b.service.context.inbound.recipient('a.example', sent.id, bob))?.state === 'accepted',
    );
    return sent;
  }

  /** A pulled copy at b, as its pull job commits it, two minutes old. */
  async function pulledCopy(a: PmtpNode, b: PmtpNode, sent: Submitted): Promise<string> {
    const outboxEntry = await a.service.context.spool.read(sent.queueId);
    if (outboxEntry.meta.kind !== 'pmtp-outbox') throw new Error('not an outbox entry');
    const { manifest, signatures, digest, id, version } = outboxEntry.meta.pmtp;
    const draft = await b.service.context.spool.draft();
    await draft.writeBody(Readable.from([Buffer.from('hello\r\n')]));
    const committed = await draft.commit({
      kind: 'pmtp-received',
      queue: 'pull',
      jobId: pullJobId('a.example', id, version),
      createdAt: new Date(Date.now() - 120_000).toISOString(),
      envelope: { mailFrom: manifest.from, rcptTo: [bob] },
      pmtp: { origin: 'a.example', id, version, digest, manifest, signatures },
    });
    return committed.queueId;
  }

  it('expires a notice that was never pulled once it is past its expiry', async () => {
    pair = await startPair({ b: { workers: false } });
    const { a, b } = pair;
    const sent = await acceptedAtB(a, b);
    expect(await sweeperOf(b).runOnce()).toEqual({ expired: 0, removed: 0 });
    expect((await b.service.context.inbound.recipient('a.example', sent.id, bob))?.state).toBe('accepted');
    // another gateway on the same Redis swept within this interval: this one waits its turn
    expect(await sweeperOf(b, 6 * DAY_S).runOnce()).toEqual({ expired: 0, removed: 0 });
    await b.redis.del(`${b.config.redis.prefix}:pmtp:inbound-sweep`);
    expect(await sweeperOf(b, 6 * DAY_S).runOnce()).toEqual({ expired: 1, removed: 0 });
    expect((await b.service.context.inbound.recipient('a.example', sent.id, bob))?.state).toBe('expired');
    expect(await b.service.context.inbound.head('a.example', sent.id)).toBeUndefined();
  });

  it('removes a pulled copy whose recipients were withdrawn and keeps one a recipient waits for', async () => {
    pair = await startPair({ b: { workers: false } });
    const { a, b } = pair;
    // the pull job committed its copy, then died before moving bob on; the sender retracted
    const retracted = await acceptedAtB(a, b);
    const stranded = await pulledCopy(a, b, retracted);
    await a.service.outbox.retract(retracted.id);
    await until(
      async () => (await b.service.context.inbound.recipient('a.example', retracted.id, bob))?.state === 'retracted',
    );
    // this one was fetched: its pull job still owes the delivery
    const waiting = await acceptedAtB(a, b);
    const owed = await pulledCopy(a, b, waiting);
    await b.service.context.inbound.updateRecipient('a.example', waiting.id, bob, (cur) =>
      cur ? { ...cur, state: 'fetched' } : undefined,
    );
    expect(await sweeperOf(b).runOnce()).toEqual({ expired: 0, removed: 1 });
    expect(await b.service.context.spool.has(stranded)).toBe(false);
    expect(await b.service.context.spool.has(owed)).toBe(true);
  });
});
