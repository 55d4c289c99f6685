// A private Debian HAProxy on loopback for the PROXY protocol tests: one TCP frontend per entry,
// each passing connections to its backend port with `send-proxy` (v1) or `send-proxy-v2`.
// Started in the foreground (-db) as a child; stopped by its pid.

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { freePort } from './smtp-sink.js';
import { tempDir } from './tmp.js';

export interface HaproxyRoute {
  readonly backendPort: number;
  readonly version: 1 | 2;
}

export interface PrivateHaproxy {
  /** the frontend port of each route, in order */
  readonly ports: readonly number[];
  stop(): Promise<void>;
}

export function haproxyMissing(): string | undefined {
  return existsSync('/usr/sbin/haproxy') ? undefined : '/usr/sbin/haproxy is missing (apt-get install haproxy)';
}

export async function startHaproxy(routes: readonly HaproxyRoute[]): Promise<PrivateHaproxy> {
  const { dir, remove } = await tempDir('haproxy');
  const ports: number[] = [];
  const sections = ['defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n'];
  for (const [i, route] of routes.entries()) {
    const port = await freePort();
    ports.push(port);
    const send = route.version === 2 ? 'send-proxy-v2' : 'send-proxy';
    sections.push(
      `frontend fe${i}\n    bind 127.0.0.1:${port}\n    default_backend be${i}\n`,
      `backend be${i}\n    server s${i} 127.0.0.1:${route.backendPort} ${send}\n`,
    );
  }
  const file = path.join(dir, 'haproxy.cfg');
  await writeFile(file, sections.join('\n'));
  const child = spawn('/usr/sbin/haproxy', ['-db', '-f', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  // not a connection to the frontend: HAProxy would open a backend connection for it (a stray PROXY header)
  await waitBound(ports, child, () => stderr);
  return {
    ports,
    async stop() {
      await stopChild(child);
      await remove();
    },
  };
}

/** Polls until nothing else can bind the frontend ports, i.e. HAProxy holds them. */
async function waitBound(ports: readonly number[], child: ChildProcess, stderr: () => string): Promise<void> {
  const { createServer } = await import('node:net');
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`haproxy exited ${child.exitCode}: ${stderr()}`);
    const free = await Promise.all(
      ports.map(
        (port) =>
          new Promise<boolean>((resolve) => {
            const probe = createServer();
            probe.once('error', () => resolve(false));
            probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
          }),
      ),
    );
    if (free.every((f) => !f)) return;
    await new Promise((r) => setTimeout(r, 30));
  }
  throw new Error(`haproxy did not bind its ports: ${stderr()}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await exited;
}

/** Opens a plain TCP connection from `localAddress`, for tests that speak a header themselves. */
export function rawConnect(port: number, localAddress = '127.0.0.1') {
  return connect({ port, host: '127.0.0.1', localAddress });
}
