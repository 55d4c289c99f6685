// The outbound worker reports to /metrics through its optional `metrics` dep: one result per
// recipient, and arrival-to-delivery latency for the delivered ones only.
import { Readable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/observability/metrics.js';
import { SmtpDelivery } from '../../src/outbound-smtp/deliver.js';
import { createOutboundProcessor } from '../../src/outbound-smtp/outbound-worker.js';
import { DeliveryStatusStore } from '../../src/queue/delivery-status.js';
import type { MailJob } from '../../src/queue/queues.js';
import { Spool } from '../../src/spool/spool.js';
import { testConfig } from '../support/config.js';
import { pulledForPostfixRecord } from '../support/records.js';
import { deleteKeys, redisUrl, testPrefix } from '../support/redis.js';
import { type Sink, startSink } from '../support/smtp-sink.js';
import { staticResolver } from '../support/static-resolver.js';
import { tempDir } from '../support/tmp.js';

describe('delivery metrics', () => {
  const prefix = testPrefix();
  let good: Sink;
  let hard: Sink;
  let dir: string;
  let remove: () => Promise<void>;
  let redis: Redis;

  beforeAll(async () => {
    good = await startSink();
    hard = await startSink({ flags: ['-f', 'rcpt'] });
    redis = new Redis(redisUrl);
    ({ dir, remove } = await tempDir('delivery-metrics'));
  });
  afterAll(async () => {
    await Promise.all([good.stop(), hard.stop()]);
    redis.disconnect();
    await deleteKeys(prefix);
    await remove();
  });

  it('counts each recipient by outcome and observes latency of delivered ones', async () => {
    const config = testConfig(
      {
        spool: { dir: dir },
        outbound: { mta_sts: false, port_map: { 'mx.good.example': good.port, 'mx.hard.example': hard.port } },
      },
      prefix,
    );
    const resolver = staticResolver({
      mx: {
        'good.example': [{ exchange: 'mx.good.example', priority: 10 }],
        'hard.example': [{ exchange: 'mx.hard.example', priority: 10 }],
      },
      a: { 'mx.good.example': ['127.0.0.1'], 'mx.hard.example': ['127.0.0.1'] },
    });
    const spool = new Spool(dir);
    await spool.init();
    const draft = await spool.draft();
    await draft.writeBody(Readable.from([Buffer.from('From: a@example.org\r\nSubject: m\r\n\r\nhi\r\n')]));
    const arrival = new Date(Date.now() - 90_000).toISOString();
    const entry = await draft.commit(
      pulledForPostfixRecord({ mailFrom: 'a@example.org', rcptTo: ['x@good.example', 'y@hard.example'] }, arrival),
    );
    const metrics = createMetrics({ processMetrics: false });
    const delivery = new SmtpDelivery(config);
    const processor = createOutboundProcessor({
      config,
      spool,
      resolver,
      delivery,
      status: new DeliveryStatusStore(redis, prefix),
      log: pino({ level: 'silent' }),
      metrics,
    });
    const job = {
      data: { queueId: entry.queueId },
      attemptsMade: 0,
      opts: { attempts: 5 },
      timestamp: Date.now(),
      updateData: async () => undefined,
    } as unknown as MailJob;
    await expect(processor(job, { queueId: entry.queueId })).rejects.toThrow(/undeliverable/);
    delivery.close();
    const text = await metrics.registry.metrics();
    expect(text).toContain('mailbridge_deliveries_total{route="smtp",outcome="delivered"} 1');
    expect(text).toContain('mailbridge_deliveries_total{route="smtp",outcome="failed"} 1');
    expect(text).toContain('mailbridge_delivery_latency_seconds_count{route="smtp"} 1');
    expect(text).toContain('mailbridge_delivery_latency_seconds_bucket{le="60",route="smtp"} 0');
    expect(text).toContain('mailbridge_delivery_latency_seconds_bucket{le="300",route="smtp"} 1');
  });
});
