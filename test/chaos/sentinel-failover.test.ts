// Redis Sentinel failover under load (issue 12): a real primary, replica and three sentinels on
// loopback, the built gateway found its Redis through them, and mail flowing over SMTP into a
// Maildir while the sentinels move the primary: first a coordinated `SENTINEL FAILOVER`, then a
// kill -9 of the primary. Nothing that got a 250 is lost, and mail sent after each new primary
// is elected lands within 30 s of the election.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { QueueName } from '../../src/config/schema.js';
import { type GatewayProcess, kill9, startGatewayProcess } from '../support/gateway-process.js';
import { type RedisProcess, startRedisServer } from '../support/redis-server.js';
import { tempDir } from '../support/tmp.js';
import { ChaosClient, type ChaosMessage } from './chaos-client.js';

const master = 'mbfailover';
const prefix = '{mbfailover}';
const perPhase = Number(process.env.FAILOVER_MESSAGES ?? 150);
const queueNames: readonly QueueName[] = ['inbound', 'notice', 'pull', 'outbound'];

async function until<T>(probe: () => Promise<T | undefined>, what: string, ms: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

describe('Redis Sentinel failover under load', () => {
  let dir: string;
  let remove: () => Promise<void>;
  const servers = new Map<number, RedisProcess>();
  const sentinels: RedisProcess[] = [];
  let gateway: GatewayProcess;
  let maildir: string;
  let gatewayErr = '';

  const folder = async (name: string): Promise<string> => {
    const made = path.join(dir, name);
    await mkdir(made);
    return made;
  };
  /** the port of the primary the sentinels name now */
  const primaryPort = async (): Promise<number> => {
    const ask = new Redis(sentinels[0]!.url, { maxRetriesPerRequest: 1 });
    try {
      const [, port] = (await ask.call('SENTINEL', 'get-master-addr-by-name', master)) as [string, string];
      return Number(port);
    } finally {
      ask.disconnect();
    }
  };
  /** Message-ID of every file in the domain's mailboxes, one entry per file */
  const delivered = async (): Promise<string[]> => {
    const ids: string[] = [];
    const root = path.join(maildir, 'alpha.test', 'Maildir');
    for (const user of await readdir(root).catch(() => [])) {
      const box = path.join(root, user, 'new');
      for (const file of await readdir(box).catch(() => [])) {
        const text = await readFile(path.join(box, file), 'latin1');
        ids.push(/^Message-ID: (\S+)\r?$/im.exec(text)?.[1] ?? `(none: ${file})`);
      }
    }
    return ids;
  };

  beforeAll(async () => {
    ({ dir, remove } = await tempDir('failover'));
    const primary = await startRedisServer(['--save', '', '--appendonly', 'no', '--dir', await folder('a')]);
    const replica = await startRedisServer([
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      await folder('b'),
      '--replicaof',
      '127.0.0.1',
      String(primary.port),
    ]);
    servers.set(primary.port, primary);
    servers.set(replica.port, replica);
    const replicaClient = new Redis(replica.url);
    await until(
      async () => ((await replicaClient.info('replication')).includes('master_link_status:up') ? true : undefined),
      'the replica to sync',
      20_000,
    );
    replicaClient.disconnect();
    for (const n of [1, 2, 3]) {
      const conf = path.join(await folder(`sentinel${n}`), 'sentinel.conf');
      await writeFile(
        conf,
        [
          `sentinel monitor ${master} 127.0.0.1 ${primary.port} 2`,
          `sentinel down-after-milliseconds ${master} 1000`,
          `sentinel failover-timeout ${master} 5000`,
          `dir ${path.dirname(conf)}`,
          '',
        ].join('\n'),
      );
      sentinels.push(await startRedisServer([conf, '--sentinel']));
    }
    // the sentinels must know each other and the replica before they can agree on a failover
    const ask = new Redis(sentinels[0]!.url);
    await until(
      async () => {
        const info = (await ask.call('SENTINEL', 'master', master)) as string[];
        const field = (name: string) => Number(info[info.indexOf(name) + 1]);
        return field('num-other-sentinels') === 2 && field('num-slaves') === 1 ? true : undefined;
      },
      'the sentinels to discover each other and the replica',
      20_000,
    );
    ask.disconnect();

    maildir = await folder('mail');
    await writeFile(path.join(dir, 'zone.txt'), '$ORIGIN legacy.test.\n@ TXT "v=spf1 ip4:127.0.0.1 -all"\n');
    const configFile = path.join(dir, 'mailbridge.yaml');
    await writeFile(
      configFile,
      stringify({
        hostname: 'mx.alpha.test',
        log: { level: 'info', file: path.join(dir, 'mailbridge.log') },
        redis: {
          url: 'redis://127.0.0.1:1',
          prefix,
          sentinels: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
          sentinel_master: master,
        },
        spool: { dir: path.join(dir, 'spool'), instance: 'gw' },
        dns: { zone_file: 'zone.txt' },
        metrics: { port: 0 },
        // a job whose completion the killed primary took with it (replication is asynchronous) is
        // still active on the new one: it runs again (finding nothing left to do) once its lock lapses
        queues: { stalled_job_timeout_s: 10 },
        domains: { mailbox: ['alpha.test'] },
        mailbox: { maildir_root: maildir },
        smtp: { listeners: [{ role: 'mx', host: '127.0.0.1', port: 0, max_connections_per_ip: 100 }] },
      }),
    );
    gateway = await startGatewayProcess(configFile);
    gateway.child.stderr!.on('data', (d: Buffer) => (gatewayErr += d.toString()));
  });
  afterAll(async () => {
    if (gateway) await kill9(gateway.child);
    for (const s of [...servers.values(), ...sentinels]) await s.kill();
    if (process.env.FAILOVER_KEEP) console.log(`failover: kept ${dir} (FAILOVER_KEEP)`);
    else await remove?.();
  });

  const messages = (phase: string, count: number): ChaosMessage[] =>
    Array.from({ length: count }, (_, n) => ({
      n,
      path: 'smtp-native',
      messageId: `<failover-${phase}-${n}@client.test>`,
      from: 'sender@legacy.test',
      to: `u${n % 4}@alpha.test`,
    }));
  const clientFor = (list: ChaosMessage[], log: string): ChaosClient => {
    const route = { port: gateway.port };
    return new ChaosClient(list, { 'smtp-native': route, pmtp: route, 'smtp-legacy': route }, path.join(dir, log));
  };

  /**
   * Sends `perPhase` messages over four connections, moves the primary once a third of them has
   * a 250, then sends one more message once the new primary is elected, which must land within
   * 30 s; at the end every accepted message is in its Maildir.
   */
  async function phase(name: string, moveThePrimary: (port: number) => Promise<void>) {
    const list = messages(name, perPhase);
    const client = clientFor(list, `${name}.log`);
    const sending = client.run(4);
    await until(async () => (client.accepted.size >= perPhase / 3 ? true : undefined), 'a third accepted', 60_000, 20);
    const before = await primaryPort();
    await moveThePrimary(before);
    const elected = await until(
      async () => {
        const port = await primaryPort();
        return port !== before ? port : undefined;
      },
      'a new primary',
      30_000,
    );
    const electedAt = Date.now();
    const acceptedAtElection = client.accepted.size;

    const probe = messages(`${name}-after`, 1);
    const probeClient = clientFor(probe, `${name}-after.log`);
    await probeClient.run(1);
    await until(
      async () => ((await delivered()).includes(probe[0]!.messageId) ? true : undefined),
      'the message sent after the failover to land',
      30_000 - (Date.now() - electedAt),
      50,
    ).catch(async (err: Error) => {
      throw new Error(
        `${err.message}\n${gatewayErr}\n${(await readFile(path.join(dir, 'mailbridge.log'), 'utf8')).slice(-4000)}`,
      );
    });
    const probeMs = Date.now() - electedAt;

    await sending;
    const accepted = [...client.accepted.keys()].map((n) => list[n]!.messageId);
    let ids: string[] = [];
    const settled = await until(
      async () => {
        ids = await delivered();
        const got = new Set(ids);
        return accepted.every((id) => got.has(id)) ? true : undefined;
      },
      'every accepted message to land',
      60_000,
      200,
    ).catch(() => false);
    const got = new Set(ids);
    const lost = accepted.filter((id) => !got.has(id));
    const mine = ids.filter((id) => id.startsWith(`<failover-${name}-`) && !id.includes('-after-'));
    const duplicates = mine.length - new Set(mine).size;
    const resentDuplicates = [...client.resent].filter(
      (n) => mine.filter((id) => id === list[n]!.messageId).length > 1,
    ).length;
    console.log(
      `failover ${name}: primary ${before} -> ${elected}; ${perPhase} sent, ${accepted.length} accepted (${acceptedAtElection} before the election, ${client.resent.size} resent), ${got.size} delivered, ${lost.length} lost, ${duplicates} duplicates (${resentDuplicates} from resends); the message sent after the election landed ${probeMs} ms after it`,
    );
    return { settled, accepted, lost, duplicates, resentDuplicates, rejected: client.rejected.size };
  }

  async function queueState(): Promise<{ failed: string[]; pending: string[] }> {
    const failed: string[] = [];
    const pending: string[] = [];
    const connection = new Redis(`redis://127.0.0.1:${await primaryPort()}`);
    try {
      for (const name of queueNames) {
        const q = new Queue(name, { connection, prefix });
        for (const job of await q.getFailed()) failed.push(`${name} ${job.id}: ${job.failedReason}`);
        for (const job of await q.getJobs(['active', 'wait', 'delayed', 'prioritized']))
          pending.push(`${name} ${job?.id} ${await job?.getState()} ${job?.attemptsStarted}`);
        await q.close();
      }
    } finally {
      connection.disconnect();
    }
    return { failed, pending };
  }

  it('loses nothing and delivers again within seconds of a coordinated failover and of a killed primary', async () => {
    const coordinated = await phase('coordinated', async () => {
      const ask = new Redis(sentinels[1]!.url);
      await ask.call('SENTINEL', 'FAILOVER', master);
      ask.disconnect();
    });
    expect(coordinated.rejected).toBe(0);
    expect(coordinated.lost).toEqual([]);
    expect(coordinated.duplicates - coordinated.resentDuplicates).toBe(0);

    // the demoted primary must be a synced replica again before the next failover can promote it
    await until(
      async () => {
        const ask = new Redis(sentinels[0]!.url);
        const replicas = (await ask.call('SENTINEL', 'replicas', master).finally(() => ask.disconnect())) as string[][];
        return replicas.some(
          (r) => r[r.indexOf('flags') + 1] === 'slave' && r[r.indexOf('master-link-status') + 1] === 'ok',
        )
          ? true
          : undefined;
      },
      'the old primary to serve as a replica',
      30_000,
      200,
    );
    const killed = await phase('killed', async (port) => {
      await servers.get(port)!.kill();
    });
    expect(killed.rejected).toBe(0);
    expect(killed.lost).toEqual([]);
    expect(killed.duplicates - killed.resentDuplicates).toBe(0);

    let last: { failed: string[]; pending: string[] } = { failed: [], pending: ['(not read)'] };
    const { failed, pending } = await until(
      async () => {
        last = await queueState();
        return last.pending.length === 0 ? last : undefined;
      },
      'every queue to drain',
      40_000,
      500,
    ).catch(() => last);
    expect(failed).toEqual([]);
    expect(pending).toEqual([]);
    expect(await readdir(path.join(dir, 'spool', 'entries'))).toEqual([]);
  }, 180_000);
});
