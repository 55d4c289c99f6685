// Private redis-server processes for tests that must stop, kill or fail over a Redis (never the
// shared one): a free loopback port, extra arguments as given, PING-ready before it is returned.
import { type ChildProcess, spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from './smtp-sink.js';

export interface RedisProcess {
  readonly port: number;
  readonly url: string;
  readonly child: ChildProcess;
  /** SIGKILL, like a crash; resolves when the process is gone */
  kill(): Promise<void>;
}

/** `args` go after the port, e.g. ['--appendonly', 'yes', '--dir', dir] or [configFile, '--sentinel']. */
export async function startRedisServer(
  args: readonly string[] = ['--save', '', '--appendonly', 'no'],
  port?: number,
): Promise<RedisProcess> {
  const chosen = port ?? (await freePort());
  const first = args[0]?.startsWith('--') === false ? [args[0]] : [];
  const child = spawn(
    'redis-server',
    [...first, '--bind', '127.0.0.1', '--port', String(chosen), ...args.slice(first.length)],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${chosen}`;
  const probe = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  probe.on('error', () => undefined);
  try {
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`redis-server on ${chosen} exited with ${child.exitCode}`);
      const up = await probe
        .connect()
        .then(
          () => probe.ping(),
          () => undefined,
        )
        .catch(() => undefined);
      if (up === 'PONG') break;
      if (i > 400) throw new Error(`redis-server on ${chosen} does not answer`);
      probe.disconnect();
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    probe.disconnect();
  }
  return {
    port: chosen,
    url,
    child,
    kill: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}
