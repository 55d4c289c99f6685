// The Prometheus registry: typed recorders produce the documented series, queue depth is read from
// a real Redis at scrape time, and a dead Redis drops the depth series instead of failing the scrape.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/observability/metrics.js';
import { MailQueues } from '../../src/queue/queues.js';
import { createRedisConnection, waitReady } from '../../src/queue/redis-connection.js';
import { testConfig } from '../support/config.js';
import { deleteKeys, testPrefix } from '../support/redis.js';

describe('metrics', () => {
  const prefix = testPrefix();
  const config = testConfig({ spool: { dir: '/nonexistent' } }, prefix);
  const redis = createRedisConnection(config, 'producer');
  const queues = new MailQueues(config, redis);

  beforeAll(async () => {
    await waitReady(redis);
    await queues.add('inbound', { queueId: '0000000000BCDFGHJ1' });
    await queues.add('outbound', { queueId: '0000000000BCDFGHJ2' }, { delayMs: 60_000 });
  });
  afterAll(async () => {
    await queues.close();
    redis.disconnect();
    await deleteKeys(prefix);
  });

  it('exports each recorder as a labelled series on its own registry', async () => {
    const metrics = createMetrics({ processMetrics: false });
    metrics.accepted('mx');
    metrics.accepted('mx');
    metrics.rejected('dmarc_reject', 'mx');
    metrics.noticeDisposition('challenge', 'received');
    metrics.pull('served', 'ok');
    metrics.challenge('solved');
    metrics.tokenUsed();
    metrics.delivery('smtp', 'deferred');
    metrics.deliveryLatency(42, 'smtp');
    const text = await metrics.registry.metrics();
    expect(text).toContain('mailbridge_messages_accepted_total{role="mx"} 2');
    expect(text).toContain('mailbridge_messages_rejected_total{reason="dmarc_reject",role="mx"} 1');
    expect(text).toContain('mailbridge_pmtp_notices_total{disposition="challenge",direction="received"} 1');
    expect(text).toContain('mailbridge_pmtp_pulls_total{direction="served",outcome="ok"} 1');
    expect(text).toContain('mailbridge_pmtp_challenges_total{event="solved"} 1');
    expect(text).toContain('mailbridge_pmtp_tokens_used_total 1');
    expect(text).toContain('mailbridge_deliveries_total{route="smtp",outcome="deferred"} 1');
    expect(text).toContain('mailbridge_delivery_latency_seconds_bucket{le="60",route="smtp"} 1');
    expect(text).toContain('mailbridge_delivery_latency_seconds_bucket{le="15",route="smtp"} 0');
    expect(text).not.toContain('process_cpu');
    // two registries never share a series: no globals
    expect(await createMetrics({ processMetrics: false }).registry.metrics()).not.toContain('role="mx"');
  });

  it('reads queue depth per queue and state at scrape time', async () => {
    const metrics = createMetrics({ queues });
    const text = await metrics.registry.metrics();
    expect(text).toContain('mailbridge_queue_jobs{queue="inbound",state="waiting"} 1');
    expect(text).toContain('mailbridge_queue_jobs{queue="outbound",state="delayed"} 1');
    expect(text).toContain('mailbridge_queue_jobs{queue="pull",state="failed"} 0');
    expect(text).toContain('process_cpu_user_seconds_total');
    await queues.add('inbound', { queueId: '0000000000BCDFGHJ3' });
    expect(await metrics.registry.metrics()).toContain('mailbridge_queue_jobs{queue="inbound",state="waiting"} 2');
  });

  it('drops the depth series, and still answers, when Redis is down', async () => {
    const deadConfig = testConfig({ spool: { dir: '/nonexistent' }, redis: { url: 'redis://127.0.0.1:1', prefix } });
    const dead = createRedisConnection(deadConfig, 'producer');
    dead.on('error', () => undefined);
    const deadQueues = new MailQueues(deadConfig, dead);
    const metrics = createMetrics({ queues: deadQueues, processMetrics: false });
    metrics.accepted('submission');
    const text = await metrics.registry.metrics();
    expect(text).not.toMatch(/mailbridge_queue_jobs\{/);
    expect(text).toContain('mailbridge_messages_accepted_total{role="submission"} 1');
    dead.disconnect();
    void deadQueues.close().catch(() => undefined);
  });
});
