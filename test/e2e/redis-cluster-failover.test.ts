// A gateway on a real Redis Cluster of three masters with a replica each: the master holding the
// inbound queue's slot is killed with -9, the cluster promotes its replica, and the gateway follows
// without a restart: SMTP clients hear 451 meanwhile, then 250 again, and the mail is delivered.
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisConnection, waitReady } from '../../src/queue/redis-connection.js';
import { isRedisFault } from '../../src/queue/redis-faults.js';
import { RawSmtp } from '../inbound-smtp/raw-smtp.js';
import { startMailbridge, type TestMailbridge, waitForFiles } from '../support/mailbridge.js';
import { type RedisClusterProcess, startRedisCluster } from '../support/redis-cluster.js';
import { tempDir } from '../support/tmp.js';

const prefix = `mbfo-${randomBytes(3).toString('hex')}`;

/** One message over one connection; resolves with the reply to the final dot, or the first refusal. */
async function send(port: number, n: number): Promise<string> {
  const c = await RawSmtp.connect(port);
  try {
    await c.command('EHLO client.test');
    for (const step of ['MAIL FROM:<a@elsewhere.test>', 'RCPT TO:<user@native.test>', 'DATA']) {
      const reply = await c.command(step);
      if (!/^[23]/.test(reply)) return reply;
    }
    return await c.command(
      `From: <a@elsewhere.test>\r\nTo: <user@native.test>\r\nSubject: failover ${n}\r\nMessage-ID: <fo-${n}@client.test>\r\n\r\nHello.\r\n.`,
    );
  } finally {
    c.end();
  }
}

describe('a gateway through a Redis Cluster failover', () => {
  let cluster: RedisClusterProcess;
  let gateway: TestMailbridge;
  const removers: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    const [clusterDir, dir] = await Promise.all([tempDir('rcfo'), tempDir('rcfo-gw')]);
    removers.push(clusterDir.remove, dir.remove);
    cluster = await startRedisCluster(clusterDir.dir, 3, 1);
    await writeFile(path.join(dir.dir, 'zone.txt'), '$ORIGIN elsewhere.test.\n@ TXT "v=spf1 ip4:127.0.0.1 -all"\n');
    gateway = await startMailbridge(dir.dir, {
      hostname: 'mx.native.test',
      redis: { prefix, cluster_nodes: cluster.nodes },
      spool: { dir: path.join(dir.dir, 'spool') },
      dns: { zone_file: path.join(dir.dir, 'zone.txt') },
      domains: { mailbox: ['native.test'] },
      mailbox: { maildir_root: path.join(dir.dir, 'mail') },
      queues: { retry: { initial_delay_s: 1, max_delay_s: 1 } },
      smtp: { listeners: [{ role: 'mx', host: '127.0.0.1', port: 0 }] },
    });
  }, 60_000);
  afterAll(async () => {
    await gateway?.stop();
    await cluster?.stop();
    for (const remove of removers) await remove();
  });

  it('accepts and delivers again once the replica of the killed master is promoted', async () => {
    const box = () => gateway.delivered('native.test', 'user');
    expect(await send(gateway.port('mx'), 1)).toMatch(/^250 /);
    await waitForFiles(box, 1, gateway.log, 30_000);

    // a client of the gateway's kind, to see what a command meets while the slot has no master
    const probe = createRedisConnection(gateway.config, 'producer');
    await waitReady(probe);
    const victim = await cluster.masterOf(`{${prefix}:inbound}`);
    await cluster.kill(victim);
    const killedAt = Date.now();
    const faults: unknown[] = [];
    const refusals = new Set<string>();
    let accepted = '';
    while (Date.now() - killedAt < 40_000) {
      await probe.set(`{${prefix}:inbound}:probe`, '1').catch((err: unknown) => faults.push(err));
      const reply = await send(gateway.port('mx'), 2).catch((err: Error) => err.message);
      if (reply.startsWith('250 ')) {
        accepted = reply;
        break;
      }
      refusals.add(reply.slice(0, 9));
      await new Promise((r) => setTimeout(r, 200));
    }
    probe.disconnect();
    const promoted = await cluster.masterOf(`{${prefix}:inbound}`);
    console.log(
      `redis cluster failover: master ${victim} killed, ${promoted} serves the inbound queue; ` +
        `250 again after ${Date.now() - killedAt} ms; refusals meanwhile: ${[...refusals].join(', ') || 'none'}; ` +
        `errors a command met: ${[...new Set(faults.map((e) => String(e).slice(0, 60)))].join(' | ')}`,
    );
    expect(accepted, [...refusals].join('\n')).toMatch(/^250 /);
    // what a command met meanwhile is our Redis's fault, not a destination's: a job meeting it
    // waits and goes again without spending an attempt
    expect(faults.length).toBeGreaterThan(0);
    expect(faults.filter((err) => !isRedisFault(err)).map(String)).toEqual([]);
    expect(promoted).not.toBe(victim);
    // nothing but temporary refusals while the slot had no master: never a 5xx
    expect([...refusals].filter((r) => /^5/.test(r))).toEqual([]);
    const files = await waitForFiles(box, 2, gateway.log, 30_000);
    expect(files.map((f) => /^Subject: (.*)$/m.exec(f.toString())?.[1]?.trim()).sort()).toEqual([
      'failover 1',
      'failover 2',
    ]);
  }, 120_000);
});
