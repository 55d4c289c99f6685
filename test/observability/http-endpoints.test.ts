// The operator's HTTP port: /healthz always answers, /readyz checks a real Redis and a real spool
// folder and names the failed check in a 503, /metrics serves the registry in Prometheus text format.
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHttpEndpoints, startHttpEndpoints } from '../../src/observability/http-endpoints.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { redisCheck, spoolWritableCheck } from '../../src/observability/readiness.js';
import { Spool } from '../../src/spool/spool.js';
import { redisUrl } from '../support/redis.js';
import { tempDir } from '../support/tmp.js';

const log = pino({ level: 'silent' });

describe('http endpoints', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let redis: Redis;

  beforeAll(async () => {
    ({ dir, remove } = await tempDir('readyz'));
    await new Spool(dir).init();
    redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    redis.disconnect();
    await remove();
  });

  it('answers /healthz and a ready /readyz, leaving no probe file behind', async () => {
    const metrics = createMetrics({ processMetrics: false });
    const app = buildHttpEndpoints({ metrics, checks: [redisCheck(redis), spoolWritableCheck(dir)], log });
    expect((await app.inject('/healthz')).json()).toEqual({ alive: true });
    const ready = await app.inject('/readyz');
    expect([ready.statusCode, ready.json()]).toEqual([200, { ready: true, checks: { redis: 'ok', spool: 'ok' } }]);
    expect((await readdir(path.join(dir, 'tmp'))).filter((name) => name.startsWith('.readyz'))).toEqual([]);
    await app.close();
  });

  it('names the failed checks in a 503: an unwritable spool and a Redis that does not answer', async () => {
    const dead = new Redis('redis://127.0.0.1:1', {
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      lazyConnect: true,
    });
    const { dir: gone, remove: removeGone } = await tempDir('readyz-gone');
    await rm(path.join(gone, 'tmp'), { recursive: true, force: true });
    const app = buildHttpEndpoints({
      metrics: createMetrics({ processMetrics: false }),
      checks: [redisCheck(dead), spoolWritableCheck(gone)],
      log,
    });
    const response = await app.inject('/readyz');
    expect(response.statusCode).toBe(503);
    const body = response.json<{ ready: boolean; failed: string[]; checks: Record<string, string> }>();
    expect(body.ready).toBe(false);
    expect(body.failed).toEqual(['redis', 'spool']);
    expect(body.checks.spool).toMatch(/ENOENT/);
    await app.close();
    dead.disconnect();
    await removeGone();
  });

  it('serves /metrics in Prometheus text format on the configured address', async () => {
    const metrics = createMetrics({ processMetrics: false });
    metrics.accepted('relay-in');
    const endpoints = await startHttpEndpoints(
      { host: '127.0.0.1', port: 0, enabled: true },
      { metrics, checks: [], log },
    );
    try {
      const response = await fetch(`http://${endpoints.address}/metrics`);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(await response.text()).toContain('mailbridge_messages_accepted_total{role="relay-in"} 1');
    } finally {
      await endpoints.close();
    }
  });
});
