// A spool, the four queues and the status store on a private Redis prefix, and `accept` to queue
// a small message the way the gateway does; shared by the queue inspection and CLI tests.
import { Readable } from 'node:stream';
import { pino } from 'pino';
import type { Config } from '../../src/config/schema.js';
import { MessageAcceptor, type AcceptMeta } from '../../src/queue/accept.js';
import { DeliveryStatusStore } from '../../src/queue/delivery-status.js';
import { MailQueues } from '../../src/queue/queues.js';
import { createRedisConnection, waitReady } from '../../src/queue/redis-connection.js';
import { Spool } from '../../src/spool/spool.js';
import { testConfig } from '../support/config.js';
import { deleteKeys, testPrefix } from '../support/redis.js';
import { tempDir } from '../support/tmp.js';

export const body = 'From: alice@alpha.test\r\nTo: bob@legacy.test\r\nSubject: queued\r\n\r\nhello\r\n';

export async function queueFixture(label: string) {
  const prefix = testPrefix();
  const { dir, remove } = await tempDir(label);
  const config: Config = testConfig({ spool: { dir } }, prefix);
  const spool = new Spool(dir);
  await spool.init();
  const redis = createRedisConnection(config, 'producer');
  await waitReady(redis);
  const queues = new MailQueues(config, redis);
  const status = new DeliveryStatusStore(redis, prefix);
  const acceptor = new MessageAcceptor(spool, queues, pino({ level: 'silent' }));
  const accept = async (queue: AcceptMeta['queue'] = 'inbound', rcptTo = ['bob@legacy.test']) => {
    const draft = await spool.draft();
    await draft.writeBody(Readable.from([Buffer.from(body)]));
    const meta: AcceptMeta = { kind: 'smtp', createdAt: new Date().toISOString(), envelope: { mailFrom: 'alice@alpha.test', rcptTo }, queue };
    return (await acceptor.accept(draft, meta)).queueId;
  };
  const close = async () => {
    await queues.close();
    redis.disconnect();
    await deleteKeys(prefix);
    await remove();
  };
  return { prefix, dir, config, spool, redis, queues, status, accept, close };
}

