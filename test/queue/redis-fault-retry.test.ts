// A Redis outage is our fault, not the destination's: a job whose processor hits a dead Redis goes
// again within seconds of Redis's return and spends no attempt, while a remote failure still waits
// for the configured retry schedule (Postfix's 300 s first retry). Real redis-server, killed and
// restarted on the same port from its AOF.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { createMailWorker, MailQueues } from '../../src/queue/queues.js';
import { createRedisConnection, waitReady } from '../../src/queue/redis-connection.js';
import { isRedisFault } from '../../src/queue/redis-faults.js';
import { testConfig } from '../support/config.js';
import { type RedisProcess, startRedisServer } from '../support/redis-server.js';
import { tempDir } from '../support/tmp.js';

async function until<T>(probe: () => Promise<T | undefined>, what: string, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('Redis faults inside a stage', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let redis: RedisProcess;
  let config: Config;
  const aof = (): string[] => ['--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--dir', dir];

  beforeAll(async () => {
    ({ dir, remove } = await tempDir('redis-fault'));
    redis = await startRedisServer(aof());
    // the default (Postfix) schedule: a remote failure waits 300 s, give or take the jitter
    config = testConfig({ spool: { dir }, redis: { url: redis.url, prefix: '{faults}' } });
  });
  afterAll(async () => {
    await redis.kill();
    await remove();
  });

  /** The gateway's two connections to this Redis (fail-fast producer, waiting worker) and the queues. */
  async function outboundStage() {
    const producer = createRedisConnection(config, 'producer');
    producer.on('error', () => undefined);
    await waitReady(producer);
    const queues = new MailQueues(config, producer);
    const workerConnection = createRedisConnection(config, 'worker');
    workerConnection.on('error', () => undefined);
    const close = async () => {
      await queues.close();
      producer.disconnect();
      workerConnection.disconnect();
    };
    return { producer, queues, workerConnection, close };
  }

  it('tells a dead Redis from other failures', async () => {
    const dead = new Redis('redis://127.0.0.1:1', { enableOfflineQueue: false, lazyConnect: true });
    dead.on('error', () => undefined);
    const err = await dead.set('k', 'v').catch((e: unknown) => e);
    dead.disconnect();
    expect(isRedisFault(err)).toBe(true);
    expect(isRedisFault(new Error('connect ECONNREFUSED 192.0.2.1:25'))).toBe(false);
    expect(isRedisFault(new Error('550 5.1.1 user unknown'))).toBe(false);
  });

  it('runs the job again within seconds of Redis returning, spending no attempt', async () => {
    const { producer, queues, workerConnection, close } = await outboundStage();
    let runs = 0;
    let release!: () => void;
    const started = new Promise<void>((resolve) => {
      release = resolve;
    });
    let killed!: Promise<void>;
    const worker = createMailWorker(
      config,
      'outbound',
      async () => {
        runs++;
        if (runs === 1) {
          release();
          await killed;
        }
        // a stage's own write, on the fail-fast producer connection as in the gateway
        await producer.set('{faults}:written', String(runs));
      },
      workerConnection,
    );
    worker.on('error', () => undefined);
    try {
      await queues.add('outbound', { queueId: '0000000000FAULTSXX' });
      await started;
      killed = redis.kill();
      await killed;
      await new Promise((r) => setTimeout(r, 500));
      redis = await startRedisServer(aof(), redis.port);
      const back = Date.now();
      const check = new Redis(redis.url);
      const job = await until(async () => {
        const found = await queues.queue('outbound').getJob('0000000000FAULTSXX');
        return (await found?.isCompleted()) ? found : undefined;
      }, 'the job to complete after Redis returned');
      const waited = Date.now() - back;
      expect(runs).toBe(2);
      // BullMQ counts the run that completed as the one attempt made; the run Redis cut short is only "started"
      expect([job.attemptsStarted, job.attemptsMade]).toEqual([2, 1]);
      expect(await check.get('{faults}:written')).toBe('2');
      expect(waited).toBeLessThan(15_000);
      check.disconnect();
    } finally {
      await worker.close();
      await close();
    }
  });

  it("takes a peer's Retry-After at its word without spending an attempt", async () => {
    const { queues, workerConnection, close } = await outboundStage();
    let runs = 0;
    const worker = createMailWorker(
      config,
      'outbound',
      async () => {
        runs++;
        // a PMTP peer whose Redis is restarting answers 503 with Retry-After (PmtpRequestError.retryAfterS)
        if (runs === 1) throw Object.assign(new Error('queue_unavailable: Queue unavailable'), { retryAfterS: 1 });
      },
      workerConnection,
    );
    worker.on('error', () => undefined);
    try {
      await queues.add('outbound', { queueId: '0000000000RETRYAXX' });
      await until(async () => {
        const found = await queues.queue('outbound').getJob('0000000000RETRYAXX');
        return (await found?.isCompleted()) ? found : undefined;
      }, 'the job to complete after the Retry-After (the schedule would wait 300 s)');
      // read again: the copy the probe fetched may predate the completion it then saw
      const job = await queues.queue('outbound').getJob('0000000000RETRYAXX');
      if (!job) throw new Error('the completed job is gone');
      expect(runs).toBe(2);
      expect([job.attemptsStarted, job.attemptsMade]).toEqual([2, 1]);
    } finally {
      await worker.close();
      await close();
    }
  });

  it('keeps the retry schedule for a failure that is not ours', async () => {
    const { producer, queues, workerConnection, close } = await outboundStage();
    const worker = createMailWorker(
      config,
      'outbound',
      async () => {
        throw new Error('451 4.4.1 remote host busy');
      },
      workerConnection,
    );
    worker.on('error', () => undefined);
    try {
      const before = Date.now();
      await queues.add('outbound', { queueId: '0000000000REMOTEXX' });
      const job = await until(async () => {
        const found = await queues.queue('outbound').getJob('0000000000REMOTEXX');
        return (await found?.getState()) === 'delayed' ? found : undefined;
      }, 'the job to be delayed');
      expect(job.attemptsMade).toBe(1);
      const score = Number(await producer.zscore(queues.queue('outbound').keys.delayed!, job.id!));
      // BullMQ's delayed score is ms × 0x1000 plus a counter
      expect(Math.floor(score / 0x1000) - before).toBeGreaterThan(250_000);
    } finally {
      await worker.close();
      await close();
    }
  });
});
