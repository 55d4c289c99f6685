// Per-destination limits shared through Redis by two gateways (two connections, two SmtpDelivery
// instances, as two processes have): the concurrency cap holds across both against a real SMTP
// server that counts overlapping transactions, and the per-minute budget is spent once, not twice.
import { Readable } from 'node:stream';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { SmtpDelivery } from '../../src/outbound-smtp/deliver.js';
import type { Route } from '../../src/outbound-smtp/mx-route.js';
import { DestinationLimits } from '../../src/queue/destination-limits.js';
import { createRedisConnection, type RedisClient, waitReady } from '../../src/queue/redis-connection.js';
import { isRedisFault } from '../../src/queue/redis-faults.js';
import { testConfig } from '../support/config.js';
import { deleteKeys, testPrefix } from '../support/redis.js';

/** A real SMTP server on loopback that holds each DATA a while and remembers the most at once. */
async function countingServer(): Promise<{
  port: number;
  most: () => number;
  received: () => number;
  reset(): void;
  close(): Promise<void>;
}> {
  let now = 0;
  let most = 0;
  let received = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, done) {
      now++;
      most = Math.max(most, now);
      stream.resume();
      stream.on('end', () =>
        setTimeout(() => {
          now--;
          received++;
          done();
        }, 150),
      );
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as { port: number }).port;
  return {
    port,
    most: () => most,
    received: () => received,
    reset() {
      most = 0;
      received = 0;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('per-destination limits shared by two gateways', () => {
  const prefix = testPrefix();
  let config: Config;
  let server: Awaited<ReturnType<typeof countingServer>>;
  const connections: RedisClient[] = [];

  beforeAll(async () => {
    server = await countingServer();
    config = testConfig(
      {
        spool: { dir: '/nonexistent' },
        hostname: 'gw.a.test',
        outbound: { destination_concurrency: 2, destination_rate_per_minute: 0 },
      },
      prefix,
    );
    for (let i = 0; i < 2; i++) {
      const redis = createRedisConnection(config, 'producer');
      await waitReady(redis);
      connections.push(redis);
    }
  });
  afterAll(async () => {
    for (const redis of connections) redis.disconnect();
    await server.close();
    await deleteKeys(prefix);
  });

  const route = (): Route => ({
    domain: 'b.test',
    kind: 'local',
    hops: [{ host: '127.0.0.1', port: server.port, protocol: 'smtp' }],
  });

  /** Each gateway sends `each` messages at once to the counting server. */
  async function sendFromBoth(gateways: readonly SmtpDelivery[], each: number): Promise<void> {
    const sends = gateways.flatMap((gateway, g) =>
      Array.from({ length: each }, (_, n) =>
        gateway.deliver(route(), { from: 'a@a.test', to: ['b@b.test'] }, async () =>
          Readable.from([`Subject: ${g}-${n}\r\n\r\nHello.\r\n`]),
        ),
      ),
    );
    const reports = await Promise.all(sends);
    expect(reports.flatMap((r) => r.results.map((x) => x.outcome))).toEqual(Array(sends.length).fill('delivered'));
  }

  it('without the shared limits each process has its own cap, and two send twice as many at once', async () => {
    const gateways = [new SmtpDelivery(config), new SmtpDelivery(config)];
    server.reset();
    await sendFromBoth(gateways, 4);
    for (const g of gateways) g.close();
    expect(server.received()).toBe(8);
    expect(server.most()).toBeGreaterThan(2);
  });

  it('with them, destination_concurrency holds across both gateways', async () => {
    const gateways = connections.map((redis) => new SmtpDelivery(config, new DestinationLimits(redis, prefix)));
    server.reset();
    await sendFromBoth(gateways, 4);
    for (const g of gateways) g.close();
    expect(server.received()).toBe(8);
    expect(server.most()).toBe(2);
  });

  it('hands a slot on when its holder releases it, to whichever gateway asks', async () => {
    const [one, two] = connections.map((redis) => new DestinationLimits(redis, prefix));
    const limit = { concurrency: 2, perMinute: 0 };
    const first = await one!.tryAdmit('slots.test:25', limit);
    const second = await two!.tryAdmit('slots.test:25', limit);
    expect([first.admitted, second.admitted]).toEqual([true, true]);
    const third = await one!.tryAdmit('slots.test:25', limit);
    expect(third).toMatchObject({ admitted: false, reason: 'busy' });
    const waiting = two!.admit('slots.test:25', limit);
    if (second.admitted) await second.lease.release();
    const lease = await waiting;
    expect(await one!.tryAdmit('slots.test:25', limit)).toMatchObject({ admitted: false, reason: 'busy' });
    await lease.release();
    if (first.admitted) await first.lease.release();
  });

  it('ends a wait at shutdown as a fault of ours, so the job goes again without spending an attempt', async () => {
    const limits = new DestinationLimits(connections[0]!, prefix);
    const limit = { concurrency: 1, perMinute: 0 };
    const held = await limits.tryAdmit('closing.test:25', limit);
    expect(held.admitted).toBe(true);
    const waiting = limits.admit('closing.test:25', limit);
    limits.stopWaiting();
    const err = await waiting.catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'queue_unavailable' });
    expect(isRedisFault(err)).toBe(true);
    if (held.admitted) await held.lease.release();
  });

  it('spends the minute budget once for both gateways', async () => {
    const [one, two] = connections.map((redis) => new DestinationLimits(redis, prefix));
    const limit = { concurrency: 100, perMinute: 5 };
    const answers = [];
    for (let i = 0; i < 6; i++) {
      for (const limits of [one!, two!]) {
        const answer = await limits.tryAdmit('rate.test:25', limit);
        if (answer.admitted) await answer.lease.release();
        answers.push(answer);
      }
    }
    expect(answers.filter((a) => a.admitted)).toHaveLength(5);
    const refused = answers.filter((a) => !a.admitted);
    expect(refused).toHaveLength(7);
    for (const r of refused) {
      expect(r).toMatchObject({ reason: 'rate' });
      expect(r.admitted === false && r.waitMs > 0 && r.waitMs <= 60_000).toBe(true);
    }
  });
});
