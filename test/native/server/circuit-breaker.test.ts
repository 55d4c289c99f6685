// Retry against a dead destination: failures trip the per-domain breaker, jobs park instead of
// hammering it, and when the domain answers again every parked job is released at once (well
// before the 30 s retry backoff configured here would have let them run).
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../support/smtp-sink.js';
import { type PmtpNode, startNode, textMessage, until } from './harness.js';

describe('per-destination circuit breaker', () => {
  const nodes: PmtpNode[] = [];
  afterAll(async () => Promise.all(nodes.map((n) => n.close())));

  it('stops hammering a dead domain and catches up at once after recovery', async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    const a = await startNode({
      domain: 'a.example',
      port: pa,
      peers: { 'b.example': { endpoint: `http://127.0.0.1:${pb}` } },
      pmtp: { breaker_failures: 2, breaker_pause_s: 1 },
    });
    nodes.push(a);
    // notice retries back off 30 s: only the breaker's release can make this test finish in time
    await a.workers?.close();
    a.workers = undefined;
    const slow = {
      ...a.config,
      queues: {
        ...a.config.queues,
        notice: {
          ...a.config.queues.notice,
          retry: { initial_delay_s: 30, max_delay_s: 60, lifetime_s: 3600, jitter: 0 },
        },
      },
    };
    Object.assign(a.service.context, { config: slow });
    a.startWorkers();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const msg = textMessage('alice@a.example', `u${i}@b.example`, `m${i}\r\n`);
      ids.push(
        (await a.service.outbox.submit({ manifest: msg.manifest, body: msg.body, recipients: [`u${i}@b.example`] })).id,
      );
    }
    const breakerKey = `${a.config.redis.prefix}:pmtp:breaker:b.example`;
    await until(async () => Number(await a.redis.hget(breakerKey, 'open_until')) > 0);
    expect((await a.service.context.status.get(ids[0]!))[0]?.state).toBe('notified');
    const started = Date.now();
    const b = await startNode({
      domain: 'b.example',
      port: pb,
      peers: { 'a.example': { endpoint: `http://127.0.0.1:${pa}` } },
    });
    nodes.push(b);
    await until(async () => {
      for (const id of ids) if ((await a.service.context.status.get(id))[0]?.state !== 'delivered') return false;
      return true;
    }, 20_000);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(await a.redis.exists(breakerKey)).toBe(0);
  }, 40_000);
});
