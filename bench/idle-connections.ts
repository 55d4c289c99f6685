// `npm run bench -- idle`: peak RSS of a real gateway process (`mailbridge start`) holding 2,000
// SMTP connections that read the greeting and then say nothing, from 200 loopback addresses
// (127.1.x.y, 10 each, under the per-address limit). Target: <= 200 MB.

import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { deleteKeys } from './bench-support.js';
import type { Benchmark } from './benchmark.js';
import { startGatewayChild } from './gateway-child.js';
import { idleConnectionsRow } from './row-labels.js';

const perAddress = 10;

export const benchmark: Benchmark = {
  summary: 'peak RSS of `mailbridge start` holding 2,000 connections that read the 220 and idle',
  async run({ messages: connections = 2000, env, log, childNodeArgs }) {
    const prefix = `{mbbench-${randomBytes(4).toString('hex')}}`;
    const dir = await mkdtemp(path.join(tmpdir(), 'mailbridge-bench-idle-'));
    const redisUrl = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    const sockets: net.Socket[] = [];
    try {
      await writeFile(path.join(dir, 'zone.txt'), '$ORIGIN bench.test.\n@ TXT "v=spf1 -all"\n');
      const config = {
        hostname: 'mx.bench.test',
        log: { level: 'warn' },
        redis: { url: redisUrl, prefix },
        spool: { dir: path.join(dir, 'spool') },
        dns: { zone_file: path.join(dir, 'zone.txt') },
        metrics: { enabled: false },
        domains: { mailbox: ['native.test'] },
        smtp: {
          listeners: [
            {
              role: 'mx',
              host: '127.0.0.1',
              port: 0,
              max_clients: connections + 100,
              max_connections_per_ip: perAddress,
            },
          ],
        },
      };
      const file = path.join(dir, 'mailbridge.yaml');
      await writeFile(file, stringify(config));
      const gateway = await startGatewayChild(file, { nodeArgs: childNodeArgs });
      try {
        const port = gateway.ports.get('smtp mx')!;
        await new Promise((r) => setTimeout(r, 1000));
        const idle = await memory(gateway.pid);
        // open in waves of 100, so the listen backlog never overflows
        for (let i = 0; i < connections; i += 100) {
          const wave = Array.from({ length: Math.min(100, connections - i) }, (_, j) =>
            greeted(port, sourceAddress(i + j)),
          );
          sockets.push(...(await Promise.all(wave)));
        }
        await new Promise((r) => setTimeout(r, 3000));
        const held = await memory(gateway.pid);
        const open = sockets.filter((s) => !s.destroyed).length;
        if (open !== connections) throw new Error(`only ${open} of ${connections} connections stayed open`);
        log(
          `${connections} idle connections: RSS ${held.rss.toFixed(1)} MB, peak ${held.hwm.toFixed(1)} MB (idle gateway ${idle.rss.toFixed(1)} MB)`,
        );
        return [
          {
            id: 'idle',
            rowHeader: 'gateway process',
            columns: [
              { key: 'idleRss', label: 'RSS before MB', digits: 1 },
              { key: 'rss', label: 'RSS holding them MB', digits: 1 },
              { key: 'peak', label: 'peak RSS (VmHWM) MB', digits: 1 },
              { key: 'perConn', label: 'kB per connection', digits: 1 },
              { key: 'target', label: 'target MB', digits: 0 },
            ],
            rows: [
              {
                label: connections === 2000 ? idleConnectionsRow : `${connections} idle connections`,
                values: {
                  idleRss: idle.rss,
                  rss: held.rss,
                  peak: held.hwm,
                  perConn: ((held.rss - idle.rss) * 1024) / connections,
                  target: 200,
                },
              },
            ],
          },
        ];
      } finally {
        for (const s of sockets) s.destroy();
        await gateway.stop();
      }
    } finally {
      await deleteKeys(redisUrl, prefix);
      await rm(dir, { recursive: true, force: true });
    }
  },
};

/** 127.1.x.y: every address in 127.0.0.0/8 is the loopback interface on Linux. */
function sourceAddress(n: number): string {
  const k = Math.floor(n / perAddress);
  return `127.1.${Math.floor(k / 250)}.${(k % 250) + 1}`;
}

/** A connection that has read the whole 220 greeting; it sends nothing. */
function greeted(port: number, localAddress: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    let text = '';
    const onData = (d: Buffer): void => {
      text += d.toString('latin1');
      if (/^220 [^\n]*\n/m.test(text)) {
        socket.off('data', onData);
        resolve(socket);
      } else if (/^[45]\d\d /m.test(text)) {
        socket.destroy();
        reject(new Error(`refused from ${localAddress}: ${text.trim()}`));
      }
    };
    socket.on('data', onData);
    socket.on('error', reject);
  });
}

/** VmRSS and VmHWM of a process, in MB. */
async function memory(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}
