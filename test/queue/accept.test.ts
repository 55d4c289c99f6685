// The cleanup role against a real Redis: 250 only after spool and job, 451 when either fails,
// and a restart puts back any job lost between them.

import { rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { UnrecoverableError, Worker } from 'bullmq';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MailbridgeError } from '../../src/codes.js';
import { MessageAcceptor } from '../../src/queue/accept.js';
import { MailQueues } from '../../src/queue/queues.js';
import { createRedisConnection } from '../../src/queue/redis-connection.js';
import { SpoolReconciler } from '../../src/queue/spool-reconciler.js';
import { Spool } from '../../src/spool/spool.js';
import { testConfig } from '../support/config.js';
import { smtpRecord } from '../support/records.js';
import { deleteKeys, testPrefix } from '../support/redis.js';
import { tempDir } from '../support/tmp.js';

const log = pino({ level: 'silent' });
const meta = smtpRecord({
  createdAt: new Date(0).toISOString(),
  envelope: { mailFrom: 'a@x.test', rcptTo: ['b@y.test'] },
});

async function draftWith(spool: Spool, body: string) {
  const draft = await spool.draft();
  await draft.writeBody(Readable.from([Buffer.from(body)]));
  return draft;
}

describe('MessageAcceptor', () => {
  const prefix = testPrefix();
  let dir: string;
  let remove: () => Promise<void>;
  let spool: Spool;
  let queues: MailQueues;
  let acceptor: MessageAcceptor;
  let connection: ReturnType<typeof createRedisConnection>;

  beforeAll(async () => {
    ({ dir, remove } = await tempDir('accept'));
    const config = testConfig({ spool: { dir } }, prefix);
    spool = new Spool(config.spool.dir);
    await spool.init();
    connection = createRedisConnection(config, 'producer');
    queues = new MailQueues(config, connection);
    acceptor = new MessageAcceptor(spool, queues, log);
  });
  afterAll(async () => {
    await queues.close();
    connection.disconnect();
    await deleteKeys(prefix);
    await remove();
  });

  it('spools the bytes and adds a job whose id is the queue id', async () => {
    const entry = await acceptor.accept(await draftWith(spool, 'hello'), meta);
    const job = await queues.queue('inbound').getJob(entry.queueId);
    expect(job?.data).toEqual({ queueId: entry.queueId });
    expect(await spool.has(entry.queueId)).toBe(true);
    expect(job?.opts.attempts).toBeGreaterThan(1);
  });

  it('recover() re-enqueues a spooled entry whose job is gone, and only that one', async () => {
    const kept = await acceptor.accept(await draftWith(spool, 'kept'), meta);
    const lost = await acceptor.accept(await draftWith(spool, 'lost'), meta);
    await (await queues.queue('inbound').getJob(lost.queueId))!.remove();
    const result = await acceptor.recover();
    expect(result.requeued).toEqual([lost.queueId]);
    expect(await queues.hasJob('inbound', lost.queueId)).toBe(true);
    expect(await queues.hasJob('inbound', kept.queueId)).toBe(true);
  });

  it('reconcile() while running gives a lost or failed job back, and spares live jobs and young entries', async () => {
    const failed = await acceptor.accept(await draftWith(spool, 'failed'), meta);
    const workerConnection = createRedisConnection(testConfig({ spool: { dir } }, prefix), 'worker');
    const worker = new Worker(
      'inbound',
      async () => {
        throw new UnrecoverableError('stage gave up');
      },
      { connection: workerConnection, prefix },
    );
    await new Promise<void>((resolve) => worker.on('failed', (job) => job?.id === failed.queueId && resolve()));
    await worker.close();
    workerConnection.disconnect();
    const live = await acceptor.accept(await draftWith(spool, 'live'), meta);
    const lost = await acceptor.accept(await draftWith(spool, 'lost'), meta);
    await (await queues.queue('inbound').getJob(lost.queueId))!.remove();
    const young = await acceptor.accept(await draftWith(spool, 'young'), {
      ...meta,
      createdAt: new Date().toISOString(),
    });
    await (await queues.queue('inbound').getJob(young.queueId))!.remove();

    const result = await acceptor.reconcile(60_000);
    expect(result.requeued).toContain(lost.queueId);
    expect(result.requeued).toContain(failed.queueId);
    expect(result.requeued).not.toContain(live.queueId);
    expect(result.requeued).not.toContain(young.queueId);
    expect(await (await queues.queue('inbound').getJob(lost.queueId))!.getState()).toBe('waiting');
    expect(await (await queues.queue('inbound').getJob(failed.queueId))!.getState()).toBe('waiting');
    expect(await queues.hasJob('inbound', young.queueId)).toBe(false);
    // a second scan finds every old entry with its live job
    expect((await acceptor.reconcile(60_000)).requeued).toEqual([]);
  });

  it('one gateway of several scans per interval', async () => {
    const scans: number[] = [];
    const counting = {
      reconcile: async () => {
        scans.push(1);
        return { entries: 0, requeued: [] };
      },
    };
    const options = { intervalMs: 5_000, graceMs: 0, prefix: `${prefix}:turns` };
    const a = new SpoolReconciler(counting, connection, log, options);
    const b = new SpoolReconciler(counting, connection, log, options);
    await Promise.all([a.runOnce(), b.runOnce(), a.runOnce()]);
    expect(scans).toHaveLength(1);
  });

  it('answers queue_unavailable and keeps no spool entry when Redis is down', async () => {
    const deadConfig = testConfig({ spool: { dir }, redis: { url: 'redis://127.0.0.1:1', prefix } });
    const dead = createRedisConnection(deadConfig, 'producer');
    dead.on('error', () => undefined);
    const deadQueues = new MailQueues(deadConfig, dead);
    const deadAcceptor = new MessageAcceptor(spool, deadQueues, log);
    const draft = await draftWith(spool, 'nowhere');
    const error = await deadAcceptor.accept(draft, meta).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MailbridgeError);
    expect((error as MailbridgeError).code).toBe('queue_unavailable');
    expect((error as MailbridgeError).status.smtp).toBe(451);
    expect(await spool.has(draft.queueId)).toBe(false);
    dead.disconnect();
  });

  it('with a recorded entry: queues its jobs instead of the entry job, once the entry is durable', async () => {
    let durable: boolean | undefined;
    const entry = await acceptor.accept(await draftWith(spool, 'recorded'), meta, async ({ queueId }) => {
      durable = await spool.has(queueId);
      await queues.addBulk('outbound', [
        { data: { queueId, recipients: ['b@y.test'] } },
        { data: { queueId, recipients: ['b@y.test'] }, jobId: `second-${queueId}`, delayMs: 60_000 },
      ]);
    });
    expect(durable).toBe(true);
    expect(await queues.hasJob('inbound', entry.queueId)).toBe(false);
    expect(await (await queues.queue('outbound').getJob(entry.queueId))!.getState()).toBe('waiting');
    expect(await (await queues.queue('outbound').getJob(`second-${entry.queueId}`))!.getState()).toBe('delayed');
  });

  it('with a recorded entry: a failure to queue is 451 and keeps the entry the record names', async () => {
    const draft = await draftWith(spool, 'recorded-then-failed');
    const error = await acceptor
      .accept(draft, meta, async () => {
        throw new Error('Redis went away');
      })
      .catch((e: unknown) => e);
    expect((error as MailbridgeError).code).toBe('queue_unavailable');
    expect((error as MailbridgeError).status.smtp).toBe(451);
    expect(await spool.has(draft.queueId)).toBe(true);
    // the reconciler gives it its own job back
    expect((await acceptor.reconcile(0, Date.now() + 1000)).requeued).toContain(draft.queueId);
    expect(await queues.hasJob('inbound', draft.queueId)).toBe(true);
  });

  it('answers spool_unavailable when the spool cannot be written', async () => {
    const draft = await draftWith(spool, 'unwritable');
    const entries = path.join(dir, 'entries');
    // a file where the entries folder should be: rename fails even for root
    await rename(entries, `${entries}.away`);
    await writeFile(entries, '');
    try {
      const error = await acceptor.accept(draft, meta).catch((e: unknown) => e);
      expect((error as MailbridgeError).code).toBe('spool_unavailable');
      expect(await queues.hasJob('inbound', draft.queueId)).toBe(false);
    } finally {
      await rm(entries);
      await rename(`${entries}.away`, entries);
    }
  });
});
