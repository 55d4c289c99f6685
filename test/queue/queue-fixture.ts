// A spool, the four queues and the status store on a private Redis prefix, and `accept` to queue
// a small SMTP-born message with a job in any queue; shared by the queue inspection and CLI tests.
import { Readable } from 'node:stream';
import type { Config, QueueName } from '../../src/config/schema.js';
import type { JobDataByQueue } from '../../src/mail/jobs.js';
import { DeliveryStatusStore } from '../../src/queue/delivery-status.js';
import { HeldMessages } from '../../src/queue/held-messages.js';
import { MailQueues } from '../../src/queue/queues.js';
import { createRedisConnection, waitReady } from '../../src/queue/redis-connection.js';
import { Spool } from '../../src/spool/spool.js';
import { testConfig } from '../support/config.js';
import { smtpRecord } from '../support/records.js';
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
  const held = new HeldMessages(redis, prefix);
  /** Spools the message and gives it a job in `queue`, as whichever stage owns it there would. */
  const accept = async (queue: QueueName = 'inbound', rcptTo = ['bob@legacy.test'], mailFrom = 'alice@alpha.test') => {
    const draft = await spool.draft();
    await draft.writeBody(Readable.from([Buffer.from(body)]));
    const { queueId } = await draft.commit(smtpRecord({ envelope: { mailFrom, rcptTo } }));
    await queues.add(queue, jobNaming(queue, queueId));
    return queueId;
  };
  const close = async () => {
    await queues.close();
    redis.disconnect();
    await deleteKeys(prefix);
    await remove();
  };
  return { prefix, dir, config, spool, redis, queues, status, held, accept, close };
}

/** A job of `queue` that names spool entry `queueId`. */
export function jobNaming<Q extends QueueName>(queue: Q, queueId: string): JobDataByQueue[Q] {
  const data: { [K in QueueName]: JobDataByQueue[K] } = {
    inbound: { queueId },
    outbound: { queueId },
    notice: { action: 'fan-out', queueId },
    pull: { mode: 'resume', queueId },
  };
  return data[queue];
}
