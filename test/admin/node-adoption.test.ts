// `mailbridge node adopt` against a real Redis: a dead node's spool entries move into the adopting
// node's folder, its queued jobs into the adopting node's queues (ids kept), an entry that had lost
// its job gets one, the dead node's queues end empty; the outbox index names the new owner.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adoptNode } from '../../src/admin/node-adoption.js';
import { OutboxIndex } from '../../src/native/state/outbox-index.js';
import { MessageAcceptor } from '../../src/queue/accept.js';
import { MailQueues } from '../../src/queue/queues.js';
import { createRedisConnection } from '../../src/queue/redis-connection.js';
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

describe('node adoption', () => {
  const prefix = testPrefix();
  let dir: string;
  let remove: () => Promise<void>;
  const nodeConfig = (id: string) =>
    testConfig(
      {
        spool: { dir: path.join(dir, id) },
        node: { id, internal_url: 'http://127.0.0.1:1', secret_file: '/nonexistent' },
      },
      prefix,
    );
  let connection: ReturnType<typeof createRedisConnection>;

  beforeAll(async () => {
    ({ dir, remove } = await tempDir('adopt'));
    connection = createRedisConnection(nodeConfig('dead'), 'producer');
  });
  afterAll(async () => {
    connection.disconnect();
    await deleteKeys(prefix);
    await remove();
  });

  it("moves a dead node's entries and jobs to the adopting node", async () => {
    const dead = nodeConfig('dead');
    const deadSpool = new Spool(dead.spool.dir);
    await deadSpool.init();
    const deadQueues = new MailQueues(dead, connection);
    const acceptor = new MessageAcceptor(deadSpool, deadQueues, log);
    const ids: string[] = [];
    for (const body of ['one', 'two', 'three']) {
      const draft = await deadSpool.draft();
      await draft.writeBody(Readable.from([Buffer.from(body)]));
      ids.push((await acceptor.accept(draft, meta)).queueId);
    }
    // one entry lost its job (the node died between rename and add): the reconcile gives it one
    await (await deadQueues.queue('inbound').getJob(ids[2]!))!.remove();

    const live = nodeConfig('live');
    const liveQueues = new MailQueues(live, connection);
    const liveSpool = new Spool(live.spool.dir);
    const done = await adoptNode(
      { config: live, redis: connection, queues: liveQueues, spool: liveSpool, log },
      'dead',
      dead.spool.dir,
    );
    expect(done).toMatchObject({ entries: 3, jobs: 2, requeued: 1 });
    expect((await liveSpool.list()).sort()).toEqual([...ids].sort());
    expect(await readdir(path.join(dead.spool.dir, 'entries'))).toEqual([]);
    for (const id of ids) expect(await liveQueues.hasJob('inbound', id)).toBe(true);
    expect(await deadQueues.queue('inbound').getJobCountByTypes('wait', 'delayed', 'active')).toBe(0);
    expect((await liveSpool.read(ids[0]!)).meta.kind).toBe('smtp');

    // run again: nothing left to move, nothing doubled
    const again = await adoptNode(
      { config: live, redis: connection, queues: liveQueues, spool: liveSpool, log },
      'dead',
      dead.spool.dir,
    );
    expect(again).toMatchObject({ entries: 0, jobs: 0, requeued: 0 });
    await Promise.all([deadQueues.close(), liveQueues.close()]);
  });

  it('refuses to adopt itself', async () => {
    const live = nodeConfig('live');
    const queues = new MailQueues(live, connection);
    await expect(
      adoptNode({ config: live, redis: connection, queues, spool: new Spool(live.spool.dir), log }, 'live', dir),
    ).rejects.toThrow(/this node/);
    await queues.close();
  });

  it('names the new owner of the copies the dead node held, and only of those', async () => {
    const outbox = new OutboxIndex(connection, prefix);
    const expires = Math.floor(Date.now() / 1000) + 3600;
    await outbox.setCurrent('m1', { version: 1, queueId: '01N94QbYQ0CbX0XJ3G', digest: 'd', expires, node: 'dead' });
    await outbox.setCurrent('m2', { version: 1, queueId: '01N94QbYQ0CbX0XJ3H', digest: 'd', expires, node: 'other' });
    await outbox.moveOwner('m1', 'dead', 'live');
    await outbox.moveOwner('m2', 'dead', 'live');
    expect((await outbox.current('m1'))?.node).toBe('live');
    expect((await outbox.current('m2'))?.node).toBe('other');
  });
});
