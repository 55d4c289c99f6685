// Redis Sentinel through `redis.sentinels`: a real primary, replica and sentinel on loopback. The
// gateway's producer finds the primary through the sentinel, and after the primary is killed and
// the sentinel promotes the replica, jobs are added to the new primary without a config change.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MailQueues } from '../../src/queue/queues.js';
import { createRedisConnection, type RedisClient, waitReady } from '../../src/queue/redis-connection.js';
import { testConfig } from '../support/config.js';
import { type RedisProcess, startRedisServer } from '../support/redis-server.js';
import { tempDir } from '../support/tmp.js';

const master = 'mbtest';

async function eventually<T>(probe: () => Promise<T | undefined>, what: string, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('Redis Sentinel', () => {
  let remove: () => Promise<void>;
  const servers: RedisProcess[] = [];
  let primary: RedisProcess;
  let replica: RedisProcess;
  let sentinel: RedisProcess;
  let producer: RedisClient;
  let queues: MailQueues;

  beforeAll(async () => {
    const made = await tempDir('sentinel');
    remove = made.remove;
    // each in a folder of its own: a replica writes the primary's snapshot to its working folder
    const folder = async (name: string): Promise<string> => {
      await mkdir(path.join(made.dir, name));
      return path.join(made.dir, name);
    };
    primary = await startRedisServer(['--save', '', '--appendonly', 'no', '--dir', await folder('primary')]);
    replica = await startRedisServer([
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      await folder('replica'),
      '--replicaof',
      '127.0.0.1',
      String(primary.port),
    ]);
    servers.push(primary, replica);
    const replicaClient = new Redis(replica.url);
    await eventually(
      async () => ((await replicaClient.info('replication')).includes('master_link_status:up') ? true : undefined),
      'the replica to sync',
    );
    replicaClient.disconnect();
    const conf = path.join(made.dir, 'sentinel.conf');
    await writeFile(
      conf,
      [
        `sentinel monitor ${master} 127.0.0.1 ${primary.port} 1`,
        `sentinel down-after-milliseconds ${master} 500`,
        `sentinel failover-timeout ${master} 3000`,
        `dir ${made.dir}`,
        '',
      ].join('\n'),
    );
    sentinel = await startRedisServer([conf, '--sentinel']);
    servers.push(sentinel);
    const config = testConfig({
      spool: { dir: made.dir },
      redis: {
        url: 'redis://127.0.0.1:1',
        prefix: '{mbsentinel}',
        sentinels: [{ host: '127.0.0.1', port: sentinel.port }],
        sentinel_master: master,
      },
    });
    producer = createRedisConnection(config, 'producer');
    producer.on('error', () => undefined);
    await waitReady(producer);
    queues = new MailQueues(config, producer);
  });
  afterAll(async () => {
    await queues?.close();
    producer?.disconnect();
    for (const s of servers) await s.kill();
    await remove?.();
  });

  it('adds jobs on the primary the sentinel names, and on the promoted replica after a failover', async () => {
    await queues.add('inbound', { queueId: 'SENTINEL0001' });
    const onPrimary = new Redis(primary.url);
    expect(await onPrimary.exists('{mbsentinel}:inbound:SENTINEL0001')).toBe(1);
    onPrimary.disconnect();

    await primary.kill();
    const sentinelClient = new Redis(sentinel.url);
    await eventually(async () => {
      const [, port] = (await sentinelClient.call('SENTINEL', 'get-master-addr-by-name', master)) as [string, string];
      return Number(port) === replica.port ? true : undefined;
    }, 'the sentinel to promote the replica');
    sentinelClient.disconnect();

    // the producer fails fast while it reconnects (an SMTP client would hear 451 and retry): retry likewise
    await eventually(() => queues.add('inbound', { queueId: 'SENTINEL0002' }), 'a job added after the failover');
    const onNewPrimary = new Redis(replica.url);
    expect(await onNewPrimary.exists('{mbsentinel}:inbound:SENTINEL0002')).toBe(1);
    expect((await onNewPrimary.info('replication')).includes('role:master')).toBe(true);
    onNewPrimary.disconnect();
  });
});
