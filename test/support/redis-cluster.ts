// A real Redis Cluster for tests (three masters, optionally a replica each), on free loopback ports:
// redis-server in cluster mode as child processes, joined by `redis-cli --cluster create`, returned
// once every node says cluster_state:ok. stop() kills them; their folders go with the caller's temporary directory.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from './smtp-sink.js';

const run = promisify(execFile);

export interface RedisClusterProcess {
  readonly nodes: readonly { readonly host: string; readonly port: number }[];
  /** one plain client per master, for looking at what each shard holds */
  masters(): Redis[];
  /** the port of the master serving `key` now */
  masterOf(key: string): Promise<number>;
  /** SIGKILL of one node, like a crashed machine */
  kill(port: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedisCluster(dir: string, masters = 3, replicas = 0): Promise<RedisClusterProcess> {
  const size = masters * (1 + replicas);
  const children: ChildProcess[] = [];
  const ports: number[] = [];
  try {
    for (let i = 0; i < size; i++) {
      const [port, bus] = [await freePort(), await freePort()];
      const folder = path.join(dir, `node-${port}`);
      await mkdir(folder, { recursive: true });
      const child = spawn(
        'redis-server',
        [
          ...['--port', String(port), '--cluster-port', String(bus), '--bind', '127.0.0.1'],
          ...['--cluster-enabled', 'yes', '--cluster-config-file', path.join(folder, 'nodes.conf')],
          ...['--cluster-node-timeout', '2000', '--dir', folder, '--save', '', '--appendonly', 'no'],
          // a replica may take over however long ago it last heard its master (a test kills it at any moment)
          ...['--cluster-replica-validity-factor', '0'],
        ],
        { stdio: 'ignore' },
      );
      children.push(child);
      ports.push(port);
    }
    for (const port of ports) await until(async () => (await ask(port, 'PING')) === 'PONG', `node ${port} to start`);
    await run('redis-cli', [
      '--cluster',
      'create',
      ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      String(replicas),
      '--cluster-yes',
    ]);
    for (const port of ports)
      await until(async () => (await ask(port, 'CLUSTER', 'INFO')).includes('cluster_state:ok'), `node ${port} ok`);
    if (replicas > 0)
      await until(
        async () =>
          (await ask(ports[0]!, 'CLUSTER', 'NODES')).split('\n').filter((l) => l.includes('slave')).length ===
          masters * replicas,
        'replicas to join',
      );
  } catch (err) {
    await killAll(children);
    throw err;
  }
  const opened: Redis[] = [];
  return {
    nodes: ports.map((port) => ({ host: '127.0.0.1', port })),
    masters() {
      const clients = ports
        .slice(0, masters)
        .map((port) => new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 }));
      opened.push(...clients);
      return clients;
    },
    async masterOf(key) {
      // asked of a node still running: the one asked first may be the one a test killed
      const live = ports.find((_, i) => children[i]!.exitCode === null && children[i]!.signalCode === null)!;
      const slot = Number(await ask(live, 'CLUSTER', 'KEYSLOT', key));
      for (const line of (await ask(live, 'CLUSTER', 'NODES')).split('\n')) {
        const [, address = '', flags = '', , , , , , ...ranges] = line.split(' ');
        if (!flags.includes('master') || flags.includes('fail')) continue;
        for (const range of ranges) {
          const [from, to = from] = range.split('-').map(Number) as [number, number?];
          if (slot >= from && slot <= to!) return Number(address.split(':')[1]!.split('@')[0]);
        }
      }
      throw new Error(`no master serves ${key}`);
    },
    async kill(port) {
      const child = children[ports.indexOf(port)];
      if (child) await killAll([child]);
    },
    async stop() {
      for (const client of opened) client.disconnect();
      await killAll(children);
    },
  };
}

async function ask(port: number, ...command: string[]): Promise<string> {
  return (await run('redis-cli', ['-p', String(port), ...command]).catch(() => ({ stdout: '' }))).stdout.trim();
}

async function until(probe: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Redis Cluster: timed out waiting for ${what}`);
}

async function killAll(children: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}
