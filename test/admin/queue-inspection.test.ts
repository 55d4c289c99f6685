// The operator's queue view and actions against a real Redis: list and show gather spool, jobs and
// status; retry/flush run delayed and failed jobs now; delete removes entry and jobs, never an active one.
import { UnrecoverableError, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueueAdmin } from '../../src/admin/queue-admin.js';
import { QueueInspector } from '../../src/admin/queue-inspection.js';
import { createRedisConnection } from '../../src/queue/redis-connection.js';
import { body, queueFixture } from '../queue/queue-fixture.js';

describe('queue inspection and admin', () => {
  let f: Awaited<ReturnType<typeof queueFixture>>;
  let inspector: QueueInspector;
  let admin: QueueAdmin;

  beforeAll(async () => {
    f = await queueFixture('inspect');
    inspector = new QueueInspector(f);
    admin = new QueueAdmin(f);
  });
  afterAll(() => f.close());

  it('lists a waiting message with size, sender, recipients and job state; show adds headers', async () => {
    const id = await f.accept();
    const listed = (await inspector.list()).find((m) => m.queueId === id);
    expect(listed).toMatchObject({ spooled: true, size: body.length, sender: 'alice@alpha.test', kind: 'smtp' });
    expect(listed?.recipients).toEqual([{ address: 'bob@legacy.test', state: 'queued', attempts: 0 }]);
    expect(listed?.jobs).toEqual([expect.objectContaining({ queue: 'inbound', state: 'waiting', attemptsMade: 0 })]);
    const detail = await inspector.show(id);
    expect(detail?.headerLines).toEqual(['From: alice@alpha.test', 'To: bob@legacy.test', 'Subject: queued']);
    expect(detail?.meta?.envelope.mailFrom).toBe('alice@alpha.test');
    expect(await inspector.show('0000000000BCDFGHJK')).toBeUndefined();
  });

  it('shows a delayed job with its next attempt and the last reply; retry promotes it', async () => {
    const id = await f.accept('outbound');
    await (await f.queues.queue('outbound').getJob(id))!.remove();
    const before = Date.now();
    await f.queues.add('outbound', { queueId: id }, { delayMs: 600_000 });
    await f.status.queued(id, ['bob@legacy.test'], new Date());
    await f.status.record(
      id,
      {
        recipient: 'bob@legacy.test',
        state: 'deferred',
        reply: '451 4.4.1 connection refused',
        code: 'connection_failed',
      },
      new Date(),
    );
    const listed = (await inspector.list()).find((m) => m.queueId === id)!;
    const next = Date.parse(listed.jobs[0]!.nextAttemptAt!);
    expect(listed.jobs[0]!.state).toBe('delayed');
    expect(next).toBeGreaterThanOrEqual(before + 600_000 - 1000);
    expect(next).toBeLessThan(Date.now() + 600_000 + 1000);
    expect(listed.recipients[0]).toMatchObject({
      state: 'deferred',
      attempts: 1,
      reply: '451 4.4.1 connection refused',
    });
    expect(await admin.retry(id)).toEqual([{ queue: 'outbound', state: 'delayed', action: 'promoted' }]);
    expect(await (await f.queues.queue('outbound').getJob(id))!.getState()).toBe('waiting');
  });

  it('retries a failed job with a fresh schedule, and flush runs every delayed job', async () => {
    const id = await f.accept('pull');
    const connection = createRedisConnection(f.config, 'worker');
    const worker = new Worker('pull', async () => Promise.reject(new UnrecoverableError('origin said 550')), {
      connection,
      prefix: f.prefix,
    });
    await new Promise<void>((resolve) => worker.once('failed', () => resolve()));
    await worker.close();
    connection.disconnect();
    const failed = (await inspector.list()).find((m) => m.queueId === id)!;
    expect(failed.jobs[0]).toMatchObject({ queue: 'pull', state: 'failed', failedReason: 'origin said 550' });
    expect(await admin.retry(id)).toEqual([{ queue: 'pull', state: 'failed', action: 'retried' }]);
    const job = (await f.queues.queue('pull').getJob(id))!;
    expect([await job.getState(), job.attemptsMade]).toEqual(['waiting', 0]);

    const a = await f.accept('notice');
    const b = await f.accept('notice');
    for (const queueId of [a, b]) {
      await (await f.queues.queue('notice').getJob(queueId))!.remove();
      await f.queues.add('notice', { action: 'fan-out', queueId }, { delayMs: 3_600_000 });
    }
    expect((await admin.flush()).find((r) => r.queue === 'notice')).toEqual({ queue: 'notice', promoted: 2 });
    expect(await f.queues.queue('notice').getDelayedCount()).toBe(0);
  });

  it('deletes entry and jobs, marks unfinished recipients deleted, keeps final ones', async () => {
    const id = await f.accept('outbound', ['bob@legacy.test', 'carol@legacy.test']);
    await f.status.queued(id, ['bob@legacy.test', 'carol@legacy.test'], new Date());
    await f.status.record(
      id,
      { recipient: 'carol@legacy.test', state: 'delivered', reply: '250 ok', code: 'ok' },
      new Date(),
    );
    expect(await admin.delete(id)).toEqual({ deleted: true, jobs: ['outbound'], spooled: true, recipients: 2 });
    expect(await f.spool.has(id)).toBe(false);
    expect(await f.queues.queue('outbound').getJob(id)).toBeUndefined();
    const states = (await f.status.get(id)).map((s) => [s.recipient, s.state, s.code]);
    expect(states).toEqual([
      ['bob@legacy.test', 'deleted', 'admin_deleted'],
      ['carol@legacy.test', 'delivered', 'ok'],
    ]);
    expect(await admin.delete(id)).toEqual({ deleted: false, reason: 'not_found' });
    expect((await inspector.list()).some((m) => m.queueId === id)).toBe(false);
  });

  it('refuses to delete a message a worker is delivering right now', async () => {
    const id = await f.accept('inbound');
    let release!: () => void;
    const connection = createRedisConnection(f.config, 'worker');
    let worker!: Worker;
    await new Promise<void>((resolve) => {
      worker = new Worker(
        'inbound',
        async (job) => {
          if (job.id !== id) return;
          resolve();
          await new Promise<void>((r) => (release = r));
        },
        { connection, prefix: f.prefix, concurrency: 20 },
      );
    });
    expect((await inspector.list()).find((m) => m.queueId === id)?.jobs[0]?.state).toBe('active');
    expect(await admin.delete(id)).toEqual({ deleted: false, reason: 'active', queue: 'inbound' });
    expect(await f.spool.has(id)).toBe(true);
    release();
    await worker.close();
    connection.disconnect();
  });

  it('holds a message: parked years ahead, skipped by flush and retry, run by a worker only after release', async () => {
    const id = await f.accept('outbound');
    const other = await f.accept('outbound');
    for (const queueId of [id, other]) {
      await (await f.queues.queue('outbound').getJob(queueId))!.remove();
      await f.queues.add('outbound', { queueId }, { delayMs: 3_600_000 });
    }
    expect(await admin.hold(id)).toEqual({ done: true, jobs: ['outbound'] });
    expect(await admin.hold(id)).toEqual({ done: false, reason: 'already' });
    const listed = (await inspector.list()).find((m) => m.queueId === id)!;
    expect(listed.heldAt).toBeDefined();
    expect(Date.parse(listed.jobs[0]!.nextAttemptAt!)).toBeGreaterThan(Date.now() + 4 * 365 * 86_400_000);
    expect((await f.queues.queue('outbound').getJob(id))!.data).toEqual({ queueId: id });

    // flush runs the other delayed message, not the held one; retry leaves it held
    expect((await admin.flush()).find((r) => r.queue === 'outbound')).toEqual({ queue: 'outbound', promoted: 1 });
    expect(await (await f.queues.queue('outbound').getJob(other))!.getState()).toBe('waiting');
    expect(await admin.retry(id)).toEqual([{ queue: 'outbound', state: 'held', action: 'unchanged' }]);
    expect(await (await f.queues.queue('outbound').getJob(id))!.getState()).toBe('delayed');

    const ran: string[] = [];
    const connection = createRedisConnection(f.config, 'worker');
    const worker = new Worker(
      'outbound',
      async (job) => {
        // earlier tests left other outbound jobs waiting: only these two matter here
        if (job.id === id || job.id === other) ran.push(job.id);
      },
      { connection, prefix: f.prefix },
    );
    await new Promise<void>((resolve) => worker.on('completed', (job) => job.id === other && resolve()));
    expect(ran).toEqual([other]);
    expect(await admin.release(id)).toEqual({ done: true, jobs: ['outbound'] });
    await new Promise<void>((resolve) => worker.on('completed', (job) => job.id === id && resolve()));
    expect(ran).toEqual([other, id]);
    expect(await admin.release(id)).toEqual({ done: false, reason: 'not_held' });
    await worker.close();
    connection.disconnect();
  });
});
