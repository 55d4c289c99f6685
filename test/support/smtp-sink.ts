// Postfix's smtp-sink as a real SMTP/LMTP peer on loopback, with its fault flags
// (-r CMD: 4xx, -f CMD: 5xx, -Q CMD: 421, -L: LMTP). Accepted messages land as files in `dir`.

import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, readdir, readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { tempDir } from './tmp.js';

export interface Sink {
  readonly port: number;
  /** full dump files of the transactions that reached "." */
  messages(): Promise<string[]>;
  stop(): Promise<void>;
}

/** A loopback port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startSink(options: { port?: number; flags?: string[] } = {}): Promise<Sink> {
  const port = options.port ?? (await freePort());
  const { dir, remove } = await tempDir('sink');
  // smtp-sink drops to nobody before writing dumps
  await chmod(dir, 0o777);
  const child = spawn(
    '/usr/sbin/smtp-sink',
    ['-u', 'nobody', '-d', path.join(dir, 'msg.'), ...(options.flags ?? []), `127.0.0.1:${port}`, '64'],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  await waitListening(port, child);
  return {
    port,
    messages: async () =>
      Promise.all((await readdir(dir)).sort().map((name) => readFile(path.join(dir, name), 'utf8'))),
    stop: async () => {
      await stopChild(child);
      await remove();
    },
  };
}

async function waitListening(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`smtp-sink exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`smtp-sink did not listen on ${port}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}
