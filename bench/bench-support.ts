// Small pieces benchmarks share: a free loopback port, a real smtp-sink peer, and removing a
// run's Redis keys (every run uses its own {prefix}).

import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../src/staging/staging-plan.js';

export { freePort };

export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/**
 * Postfix's smtp-sink on a loopback port, accepting everything; needs root (-u nobody). With
 * `dumpDir` (writable by nobody) each message lands there as one file, written when it ends.
 */
export async function startSmtpSink(
  backlog: number,
  dumpDir?: string,
): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const dump = dumpDir ? ['-d', path.join(dumpDir, 'msg.')] : [];
  const child = spawn('/usr/sbin/smtp-sink', ['-u', 'nobody', ...dump, `127.0.0.1:${port}`, String(backlog)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`smtp-sink exited with ${child.exitCode}`);
    if (await connects(port)) break;
    if (i === 100) throw new Error(`smtp-sink did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}
