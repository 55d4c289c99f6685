// The outbound half of the gateway for the smtp-out benchmark: the same outbound agent as
// src/gateway.ts (DKIM signer, zone-file MX routing, MTA-STS, status) with no listeners; the
// queue is filled first, then the worker alone is timed.

import { Readable } from 'node:stream';
import type { Config } from '../src/config/schema.js';
import { buildResolver } from '../src/gateway.js';
import { createLogger } from '../src/log.js';
import type { PulledForPostfixRecord } from '../src/mail/spool-records.js';
import { createOutboundAgent } from '../src/outbound-smtp/outbound-agent.js';
import { MessageAcceptor } from '../src/queue/accept.js';
import { DeliveryStatusStore } from '../src/queue/delivery-status.js';
import { createMailWorker, MailQueues } from '../src/queue/queues.js';
import { createRedisConnection, waitReady } from '../src/queue/redis-connection.js';
import { Spool } from '../src/spool/spool.js';

export interface OutboundPipeline {
  readonly status: DeliveryStatusStore;
  /** Spools one message for `rcpt` and queues it for delivery; returns its queue id. */
  enqueue(body: Iterable<Buffer>, from: string, rcpt: string): Promise<string>;
  /** Runs the outbound worker until `count` jobs completed; returns the wall-clock ms. Throws on a failed job. */
  drain(count: number): Promise<number>;
  close(): Promise<void>;
}

export async function outboundPipeline(config: Config): Promise<OutboundPipeline> {
  const log = createLogger(config);
  const spool = new Spool(config.spool.dir);
  await spool.init();
  const producer = createRedisConnection(config, 'producer');
  await waitReady(producer);
  const workerConnection = createRedisConnection(config, 'worker');
  const queues = new MailQueues(config, producer);
  const acceptor = new MessageAcceptor(spool, queues, log);
  const status = new DeliveryStatusStore(producer, config.redis.prefix);
  const resolver = await buildResolver(config);
  const agent = await createOutboundAgent(config, { spool, resolver, status, log, redis: producer });
  const processor = agent.processor;

  return {
    status,
    async enqueue(body, from, rcpt) {
      const draft = await spool.draft();
      await draft.writeBody(Readable.from(body));
      // pulled PMTP mail for a mailbox behind Postfix: the record that enters the outbound queue directly
      const meta: Omit<PulledForPostfixRecord, 'queueId'> = {
        kind: 'pmtp',
        queue: 'outbound',
        createdAt: new Date().toISOString(),
        envelope: { mailFrom: from, rcptTo: [rcpt] },
        pmtp: { id: 'bench', version: 1, origin: 'bench.example', trustClass: 'new-verified' },
      };
      return (await acceptor.accept(draft, meta)).queueId;
    },
    async drain(count) {
      const started = process.hrtime.bigint();
      // listeners attach before the worker's first (asynchronous) job event
      const worker = createMailWorker(config, 'outbound', processor, workerConnection);
      try {
        await new Promise<void>((resolve, reject) => {
          let done = 0;
          worker.on('completed', () => ++done === count && resolve());
          worker.on('failed', (job, err) => reject(new Error(`job ${job?.id ?? '?'} failed: ${err.message}`)));
          worker.on('error', reject);
        });
        return Number(process.hrtime.bigint() - started) / 1e6;
      } finally {
        await worker.close();
      }
    },
    async close() {
      agent.close();
      await queues.close();
      producer.disconnect();
      workerConnection.disconnect();
    },
  };
}
