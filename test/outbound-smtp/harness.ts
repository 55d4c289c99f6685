// A real outbound pipeline for tests: spool, acceptor, BullMQ queue and worker on a real Redis,
// the delivery status store, DSNs queued back into it (with the ledger of delay warnings), and
// the log lines kept for assertions.

import { Readable, Writable } from 'node:stream';
import { pino } from 'pino';
import type { Config } from '../../src/config/schema.js';
import type { MailResolver } from '../../src/dns/resolver.js';
import type { DomainSigners } from '../../src/mail/domain-signers.js';
import type { SpoolRecordInput } from '../../src/mail/spool-records.js';
import { SmtpDelivery } from '../../src/outbound-smtp/deliver.js';
import { MtaStsPolicies, type PolicyFetcher } from '../../src/outbound-smtp/mta-sts.js';
import { createOutboundProcessor } from '../../src/outbound-smtp/outbound-worker.js';
import { MessageAcceptor } from '../../src/queue/accept.js';
import { DeliveryStatusStore } from '../../src/queue/delivery-status.js';
import { DsnLedger } from '../../src/queue/dsn-ledger.js';
import { dsnViaAcceptor } from '../../src/queue/dsn-sink.js';
import { createMailWorker, type MailJob, MailQueues } from '../../src/queue/queues.js';
import { createRedisConnection } from '../../src/queue/redis-connection.js';
import { Spool } from '../../src/spool/spool.js';
import { deleteKeys } from '../support/redis.js';

export interface Harness {
  readonly spool: Spool;
  readonly status: DeliveryStatusStore;
  readonly logs: Record<string, unknown>[];
  /** Spools `body` with `record` and queues it for outbound delivery, as the dispatch stage does for SMTP-born mail. */
  submit(body: string | Buffer, record: SpoolRecordInput): Promise<string>;
  /** resolves with the job once it is completed or failed for good */
  finished(queueId: string, timeoutMs?: number): Promise<MailJob>;
  close(): Promise<void>;
}

export async function outboundHarness(
  config: Config,
  resolver: MailResolver,
  options: { dkim?: DomainSigners; policyFetcher?: PolicyFetcher } = {},
): Promise<Harness> {
  const spool = new Spool(config.spool.dir);
  await spool.init();
  const producer = createRedisConnection(config, 'producer');
  const workerConnection = createRedisConnection(config, 'worker');
  const queues = new MailQueues(config, producer);
  const logs: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    }),
  );
  const acceptor = new MessageAcceptor(spool, queues, log);
  const status = new DeliveryStatusStore(producer, config.redis.prefix);
  const delivery = new SmtpDelivery(config);
  const sendDsn = dsnViaAcceptor(spool, acceptor);
  // no test may reach the network for a policy: only domains with an _mta-sts record get one
  const fetcher =
    options.policyFetcher ??
    (async (domain: string) => Promise.reject(new Error(`unexpected MTA-STS fetch for ${domain}`)));
  const mtaSts = new MtaStsPolicies(resolver, fetcher);
  const processor = createOutboundProcessor({
    config,
    spool,
    resolver,
    delivery,
    status,
    log,
    dkim: options.dkim,
    mtaSts,
    sendDsn,
    dsnLedger: new DsnLedger(producer, config.redis.prefix),
  });
  const worker = createMailWorker(config, 'outbound', processor, workerConnection);
  worker.on('error', () => undefined);

  return {
    spool,
    status,
    logs,
    async submit(body, record) {
      const draft = await spool.draft();
      await draft.writeBody(Readable.from([Buffer.from(body)]));
      const entry = await draft.commit(record);
      await queues.add('outbound', { queueId: entry.queueId });
      return entry.queueId;
    },
    async finished(queueId, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const job = await queues.queue('outbound').getJob(queueId);
        const state = await job?.getState();
        if (job && (state === 'completed' || state === 'failed')) return job;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`job ${queueId} not finished after ${timeoutMs} ms`);
    },
    async close() {
      await worker.close();
      delivery.close();
      await queues.close();
      producer.disconnect();
      workerConnection.disconnect();
      await deleteKeys(config.redis.prefix);
    },
  };
}

/** Polls `check` until it returns a value other than undefined. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}
