// Two gateways on a real three-master Redis Cluster started by this test, with prefixes without
// braces: mail submitted on a.test reaches bob@b.test over PMTP (inbound, notice and pull queues)
// and carol on the SMTP internet (outbound queue); the keys land on more than one shard, while
// each queue's keys, and each group of keys a script or MULTI touches together, share one slot.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupMessageStatus } from '../../src/admin/message-status.js';
import { hashPassword } from '../../src/config/password-hash.js';
import { delegateKeyId, signDelegation } from '../../src/native/protocol/delegation.js';
import { generateDomainKey } from '../../src/native/protocol/domain-keys.js';
import { DelegateGrantStore } from '../../src/native/state/delegate-grants.js';
import { InboundNoticeStore } from '../../src/native/state/inbound-notices.js';
import { SenderTokenStore } from '../../src/native/state/sender-tokens.js';
import { CircuitBreaker } from '../../src/native/workers/circuit-breaker.js';
import { TrafficLedger } from '../../src/observability/traffic-ledger.js';
import { MailQueues, queueNames } from '../../src/queue/queues.js';
import { createRedisConnection, waitReady } from '../../src/queue/redis-connection.js';
import { RawSmtp } from '../inbound-smtp/raw-smtp.js';
import { testConfig } from '../support/config.js';
import { startMailbridge, type TestMailbridge, waitForFiles } from '../support/mailbridge.js';
import { type RedisClusterProcess, startRedisCluster } from '../support/redis-cluster.js';
import { freePort, type Sink, startSink } from '../support/smtp-sink.js';
import { tempDir } from '../support/tmp.js';

const run = randomBytes(3).toString('hex');
const prefixes = { a: `mbcl-a-${run}`, b: `mbcl-b-${run}` };

async function submit(port: number, password: string, to: readonly string[], data: string): Promise<string> {
  const c = await RawSmtp.connect(port);
  try {
    await c.command('EHLO client.test');
    expect(await c.command(`AUTH PLAIN ${Buffer.from(`\0alice@a.test\0${password}`).toString('base64')}`)).toMatch(
      /^235/,
    );
    expect(await c.command('MAIL FROM:<alice@a.test>')).toMatch(/^250/);
    for (const rcpt of to) expect(await c.command(`RCPT TO:<${rcpt}>`)).toMatch(/^250/);
    expect(await c.command('DATA')).toMatch(/^354/);
    return await c.command(`${data}\r\n.`);
  } finally {
    c.end();
  }
}

/** Every key of `prefix` on each master, by the master's index. */
async function keysByShard(masters: readonly Redis[], prefix: string): Promise<string[][]> {
  return Promise.all(
    masters.map(async (m) => {
      const found: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await m.scan(cursor, 'MATCH', `*${prefix}*`, 'COUNT', 1000);
        cursor = next;
        found.push(...keys);
      } while (cursor !== '0');
      return found;
    }),
  );
}

describe('gateways on a three-master Redis Cluster', () => {
  let cluster: RedisClusterProcess;
  let a: TestMailbridge;
  let b: TestMailbridge;
  let sink: Sink;
  const removers: (() => Promise<void>)[] = [];
  const password = 'correct horse';

  beforeAll(async () => {
    const [clusterDir, dirA, dirB] = await Promise.all([tempDir('rc'), tempDir('rc-a'), tempDir('rc-b')]);
    removers.push(clusterDir.remove, dirA.remove, dirB.remove);
    cluster = await startRedisCluster(clusterDir.dir);
    sink = await startSink();
    const [pmtpA, pmtpB] = [await freePort(), await freePort()];
    for (const dir of [dirA.dir, dirB.dir])
      await writeFile(path.join(dir, 'pmtp.key'), generateDomainKey().privatePem, { mode: 0o600 });
    await writeFile(path.join(dirA.dir, 'zone.txt'), '$ORIGIN remote.test.\n@ MX 10 mx.remote.test.\nmx A 127.0.0.1\n');
    const common = (dir: string, domain: string, port: number, peer: string, peerPort: number) => ({
      hostname: `mx.${domain}`,
      redis: { prefix: prefixes[domain === 'a.test' ? 'a' : 'b'], cluster_nodes: cluster.nodes },
      spool: { dir: path.join(dir, 'spool') },
      mailbox: { maildir_root: path.join(dir, 'mail') },
      queues: { retry: { initial_delay_s: 1, max_delay_s: 1, jitter: 0 } },
      egress: { allow_hosts: ['127.0.0.1'] },
      pmtp: {
        domain,
        key_file: path.join(dir, 'pmtp.key'),
        public_url: `http://127.0.0.1:${port}`,
        listen: { host: '127.0.0.1', port, plain_http: true },
        directory: { [peer]: { endpoint: `http://127.0.0.1:${peerPort}` } },
      },
    });
    a = await startMailbridge(dirA.dir, {
      ...common(dirA.dir, 'a.test', pmtpA, 'b.test', pmtpB),
      dns: { zone_file: path.join(dirA.dir, 'zone.txt') },
      smtp: {
        listeners: [{ role: 'submission', host: '127.0.0.1', port: 0, allow_insecure_auth: true }],
        accounts: [{ user: 'alice@a.test', password_hash: await hashPassword(password, { N: 1024 }) }],
      },
      domains: { mailbox: ['a.test'] },
      outbound: { port_map: { 'mx.remote.test': sink.port } },
    });
    b = await startMailbridge(dirB.dir, {
      ...common(dirB.dir, 'b.test', pmtpB, 'a.test', pmtpA),
      smtp: { listeners: [{ role: 'mx', host: '127.0.0.1', port: 0 }] },
      domains: { mailbox: ['b.test'], recipients: { 'b.test': ['bob'] }, first_contact: { default: 'allow' } },
    });
  }, 60_000);
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await sink?.stop();
    await cluster?.stop();
    for (const remove of removers) await remove();
  });

  const logs = async () => `${await a.log()}\n--- b.test ---\n${await b.log()}`;

  it('carries mail over PMTP and SMTP, with the keys spread over the shards', async () => {
    const reply = await submit(
      a.port('submission'),
      password,
      ['bob@b.test', 'carol@remote.test'],
      'From: Alice <alice@a.test>\r\nTo: bob@b.test, carol@remote.test\r\nSubject: over the cluster\r\nMessage-ID: <cluster@a.test>\r\n\r\nHello.',
    );
    const queueId = /^250 2\.0\.0 Ok: queued as (\S+)$/.exec(reply)?.[1];
    expect(queueId, reply).toBeDefined();
    const [atBob] = await waitForFiles(() => b.delivered('b.test', 'bob'), 1, logs, 30_000);
    expect(atBob!.toString()).toContain('Subject: over the cluster');
    const deadline = Date.now() + 30_000;
    let atCarol: string | undefined;
    while (!atCarol && Date.now() < deadline) {
      atCarol = (await sink.messages()).find((m) => m.includes('Subject: over the cluster'));
      if (!atCarol) await new Promise((r) => setTimeout(r, 100));
    }
    expect(atCarol, await logs()).toBeDefined();

    // `mailbridge status` reads through a cluster client too: both recipients, both protocols
    const status = createRedisConnection(a.config, 'producer');
    await waitReady(status);
    const rows = await lookupMessageStatus(status, prefixes.a, queueId!).finally(() => status.disconnect());
    expect(rows.map((r) => [r.recipient, r.protocol]).sort()).toEqual([
      ['bob@b.test', 'pmtp'],
      ['carol@remote.test', 'smtp'],
    ]);

    const masters = cluster.masters();
    // the traffic ledger writes its counts within a second of the delivery
    let shards = await keysByShard(masters, prefixes.a);
    for (let i = 0; i < 50 && !shards.flat().some((k) => k.includes(':traffic:')); i++) {
      await new Promise((r) => setTimeout(r, 100));
      shards = await keysByShard(masters, prefixes.a);
    }
    const all = shards.flat();
    console.log(`redis cluster: a.test's keys per shard ${shards.map((s) => s.length).join(' / ')}`);
    expect(shards.filter((keys) => keys.length > 0).length).toBeGreaterThan(1);
    // each queue: all its keys in one slot, and the queues not all in one slot
    const slotOf = async (key: string) => Number(await masters[0]!.cluster('KEYSLOT', key));
    const queueSlots: number[] = [];
    for (const queue of ['inbound', 'notice', 'outbound']) {
      const keys = all.filter((k) => k.startsWith(`{${prefixes.a}:${queue}}:${queue}:`));
      expect(keys.length, queue).toBeGreaterThan(0);
      const slots = new Set(await Promise.all(keys.map(slotOf)));
      expect(slots.size, queue).toBe(1);
      queueSlots.push(...slots);
    }
    expect(new Set(queueSlots).size).toBeGreaterThan(1);
    // the traffic ledger's day hash and its domain set are one script's keys
    const traffic = all.filter((k) => k.includes(':traffic:'));
    expect(traffic.length).toBeGreaterThan(1);
    expect(new Set(await Promise.all(traffic.map(slotOf))).size).toBe(1);
  }, 90_000);

  it('spreads a batch of PMTP mail over the shards (figures for sizing them)', async () => {
    const masters = cluster.masters();
    const stats = () =>
      Promise.all(
        masters.map(async (m) => {
          const info = await m.info('stats');
          return Number(/^total_commands_processed:(\d+)/m.exec(info)?.[1]);
        }),
      );
    const before = await stats();
    const count = 30;
    const already = (await b.delivered('b.test', 'bob')).length;
    for (let i = 0; i < count; i++) {
      const reply = await submit(
        a.port('submission'),
        password,
        ['bob@b.test'],
        `From: Alice <alice@a.test>\r\nTo: bob@b.test\r\nSubject: batch ${i}\r\nMessage-ID: <batch-${i}@a.test>\r\n\r\nHello.`,
      );
      expect(reply).toMatch(/^250 /);
    }
    await waitForFiles(() => b.delivered('b.test', 'bob'), already + count, logs, 60_000);
    const after = await stats();
    const perShard = after.map((n, i) => n - before[i]!);
    const total = perShard.reduce((x, y) => x + y, 0);
    console.log(
      `redis cluster: ${count} PMTP messages a.test -> b.test, ${Math.round(total / count)} Redis commands per message ` +
        `(both gateways, idle polling included), per shard ${perShard.join(' / ')}`,
    );
    expect(perShard.filter((n) => n > 0).length).toBeGreaterThan(1);
  }, 90_000);

  it('runs the stores whose scripts and MULTIs touch several keys, with no CROSSSLOT', async () => {
    const prefix = `mbcl-s-${run}`;
    const config = testConfig({ spool: { dir: '/nonexistent' }, redis: { prefix, cluster_nodes: cluster.nodes } });
    const redis = createRedisConnection(config, 'producer');
    await waitReady(redis);
    const queues = new MailQueues(config, redis);
    // BullMQ asks each queue's server for its version as it starts: let that finish before closing
    await Promise.all(queueNames.map((name) => queues.queue(name).waitUntilReady()));
    try {
      const breaker = new CircuitBreaker(redis, prefix, queues, { failures: 2, firstPauseMs: 50, pauseMs: 1000 });
      expect(await breaker.failure('down.test', 1000)).toEqual({ open: false });
      expect(await breaker.failure('down.test', 1000)).toEqual({ open: true, untilMs: 1050 });
      expect(await breaker.state('down.test', 2000)).toEqual({ open: false, probe: true });
      await breaker.park('down.test', 'notice', 'job-1');
      expect(await breaker.success('down.test')).toBe(0);
      expect(await breaker.state('down.test', 2000)).toEqual({ open: false, quiet: true });

      const tokens = new SenderTokenStore(redis, prefix);
      expect(await tokens.use('tok_a', 'use-1', 1, 2_000_000_000)).toBe('ok');
      expect(await tokens.use('tok_a', 'use-2', 1, 2_000_000_000)).toBe('token_exhausted');
      await tokens.revoke('tok_a');
      expect(await tokens.use('tok_a', 'use-1', 1, 2_000_000_000)).toBe('token_revoked');

      const traffic = new TrafficLedger(redis, prefix);
      await traffic.record(
        { kind: 'message', direction: 'in', protocol: 'pmtp', domain: 'x.test', bytes: 10 },
        new Date(),
      );
      expect((await traffic.peers(1, new Date())).map((p) => p.domain)).toEqual(['x.test']);

      const inbound = new InboundNoticeStore(redis, prefix);
      const head = { version: 1, digest: 'd', size: 1, sender: 's@x.test', expires: 100, receivedAt: 1 };
      await inbound.setHead('x.test', 'm1', head, 50);
      expect(await inbound.head('x.test', 'm1')).toEqual(head);
      expect(await inbound.expiredNotices(200, 10)).toEqual([{ origin: 'x.test', id: 'm1' }]);

      const grants = new DelegateGrantStore(redis, prefix);
      const nowS = Math.floor(Date.now() / 1000);
      const proof = signDelegation({
        domain: 'x.test',
        recipient: 'bob@x.test',
        endpoint: 'https://bob.x.test',
        delegateKey: generateDomainKey().publicKey,
        expires: nowS + 600,
        privateKey: generateDomainKey().privateKey,
      });
      await grants.record(proof, nowS);
      expect(await grants.find('x.test', delegateKeyId(proof))).toEqual(proof);
    } finally {
      await queues.close();
      redis.disconnect();
    }
  });
});
