// Opens what accepting mail needs, the way the gateway wires it: spool, fail-fast Redis producer,
// queues and the MessageAcceptor. For parts that run alone (benchmarks, tests) beside the gateway.

import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Spool } from '../spool/spool.js';
import { spoolFromConfig } from '../spool/spool-from-config.js';
import { MessageAcceptor } from './accept.js';
import { MailQueues } from './queues.js';
import type { RedisClient } from './redis-connection.js';
import { createRedisConnection, waitReady } from './redis-connection.js';

export interface AcceptStack {
  readonly spool: Spool;
  readonly producer: RedisClient;
  readonly queues: MailQueues;
  readonly acceptor: MessageAcceptor;
  close(): Promise<void>;
}

export async function openAcceptStack(config: Config, log: Logger): Promise<AcceptStack> {
  const spool = spoolFromConfig(config.spool);
  await spool.init();
  const producer = createRedisConnection(config, 'producer');
  await waitReady(producer);
  const queues = new MailQueues(config, producer);
  return {
    spool,
    producer,
    queues,
    acceptor: new MessageAcceptor(spool, queues, log),
    async close() {
      await queues.close();
      producer.disconnect();
    },
  };
}
