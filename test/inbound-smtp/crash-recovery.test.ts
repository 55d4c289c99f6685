// kill -9 after 250 loses nothing: the built CLI (`mailbridge start`) runs as a child, clients
// send in parallel, the child is killed mid-load, some jobs are deleted from Redis (a job lost
// between fsync and add), and after a restart every queue id that got a 250 has its spool entry
// and a job again. A client cut off before its 250 leaves nothing behind.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type GatewayProcess, kill9, startGatewayProcess } from '../support/gateway-process.js';
import { deleteKeys, redisUrl, testPrefix } from '../support/redis.js';
import { tempDir } from '../support/tmp.js';
import { message } from './harness.js';
import { RawSmtp } from './raw-smtp.js';

/** Sends messages over one connection until the server goes away; returns the ids that got 250. */
async function sendUntilGone(port: number, accepted: string[]): Promise<void> {
  const c = await RawSmtp.connect(port);
  if ((await c.command('EHLO client.test')) === '') return;
  while (!c.isClosed) {
    const steps = [
      await c.command('MAIL FROM:<a@elsewhere.test>'),
      await c.command('RCPT TO:<user@native.test>'),
      await c.command('DATA'),
    ];
    if (steps.some((s) => s === '')) break;
    c.write(`${message('a@elsewhere.test', 'user@native.test', 'x'.repeat(2000))}.\r\n`);
    const reply = await c.reply().catch(() => '');
    const id = /^250 2\.0\.0 Ok: queued as (\S+)$/.exec(reply)?.[1];
    if (id) accepted.push(id);
  }
}

describe('crash recovery of the running gateway', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let configFile: string;
  const prefix = testPrefix();
  let gateway: GatewayProcess | undefined;

  beforeAll(async () => {
    ({ dir, remove } = await tempDir('crash'));
    await writeFile(path.join(dir, 'zone.txt'), '$ORIGIN elsewhere.test.\n@ TXT "v=spf1 ip4:127.0.0.1 -all"\n');
    configFile = path.join(dir, 'mailbridge.yaml');
    const config = {
      hostname: 'mx.gw.test',
      log: { level: 'warn' },
      redis: { url: redisUrl, prefix },
      spool: { dir: path.join(dir, 'spool'), instance: 'gw' },
      dns: { zone_file: 'zone.txt' },
      metrics: { port: 0 },
      domains: { mailbox: ['native.test'] },
      smtp: { listeners: [{ role: 'mx', host: '127.0.0.1', port: 0, max_connections_per_ip: 100 }] },
    };
    await writeFile(configFile, stringify(config));
  });
  afterAll(async () => {
    if (gateway) await kill9(gateway.child);
    await deleteKeys(prefix);
    await remove();
  });

  it('keeps every 250 in the spool with a job, and nothing from a client cut before 250', async () => {
    gateway = await startGatewayProcess(configFile);
    const accepted: string[] = [];
    const senders = Array.from({ length: 8 }, () => sendUntilGone(gateway!.port, accepted));

    // a client in the middle of DATA when the gateway dies
    const cut = await RawSmtp.connect(gateway.port);
    await cut.envelope('a@elsewhere.test', ['user@native.test']);
    expect(await cut.command('DATA')).toMatch(/^354/);
    cut.write(`From: <a@elsewhere.test>\r\nSubject: cut-before-250-marker\r\n\r\npartial`);

    for (let i = 0; i < 500 && accepted.length < 80; i++) await new Promise((r) => setTimeout(r, 20));
    expect(accepted.length).toBeGreaterThanOrEqual(80);
    await kill9(gateway.child);
    await Promise.all(senders);
    cut.end();

    // simulate jobs lost between fsync and add
    const queue = new Queue('inbound', { connection: { url: redisUrl }, prefix });
    const lost = accepted.slice(0, 10);
    for (const id of lost) await queue.remove(id);
    expect(await queue.getJob(lost[0]!)).toBeUndefined();

    gateway = await startGatewayProcess(configFile);
    const requeued = Number(/(\d+) requeued/.exec(gateway.started)?.[1]);
    expect(requeued).toBeGreaterThanOrEqual(lost.length);

    const entries = path.join(dir, 'spool', 'entries');
    const names = new Set(await readdir(entries));
    const missing: string[] = [];
    for (const id of accepted) {
      if (!names.has(id) || !(await queue.getJob(id))) missing.push(id);
    }
    expect(missing).toEqual([]);
    expect(await readdir(path.join(dir, 'spool', 'tmp', 'gw'))).toEqual([]);
    for (const name of names)
      expect((await readFile(path.join(entries, name), 'latin1')).includes('cut-before-250-marker')).toBe(false);
    await queue.close();
  });
});
