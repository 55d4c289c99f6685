// A real gateway for the benchmarks: `node dist/cli/entry.cjs start -c FILE` as a child process,
// ready once it printed its listeners and the start line; optionally with the counters preloaded,
// so the parent can ask how many PMTP requests and fsyncs it made.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { GatewayCounters } from './gateway-counters.js';

const cli = fileURLToPath(new URL('../../dist/cli/entry.cjs', import.meta.url));
const countersModule = fileURLToPath(new URL('./gateway-counters.js', import.meta.url));

export interface GatewayChild {
  readonly pid: number;
  /** "<service>" -> port, from the "<service> listening on host:port" lines */
  readonly ports: ReadonlyMap<string, number>;
  /** PMTP HTTP requests and fsyncs this gateway made so far (needs `countTrips`) */
  counters(): Promise<GatewayCounters>;
  stop(): Promise<void>;
}

export function startGatewayChild(
  configFile: string,
  options: { countTrips?: boolean; nodeArgs?: readonly string[] } = {},
): Promise<GatewayChild> {
  const preload = [...(options.nodeArgs ?? []), ...(options.countTrips ? ['--import', countersModule] : [])];
  const child = spawn(process.execPath, [...preload, cli, 'start', '-c', configFile], {
    stdio: ['ignore', 'pipe', 'pipe', ...(options.countTrips ? ['ipc' as const] : [])],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`mailbridge exited with ${code}: ${err}`)));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (!/^mailbridge started /m.test(out)) return;
      const ports = new Map([...out.matchAll(/^(.+) listening on (?:.*:)?(\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
      resolve({
        pid: child.pid!,
        ports,
        counters: () =>
          new Promise((answer) => {
            child.once('message', (m) => answer(m as GatewayCounters));
            child.send('counters');
          }),
        stop,
      });
    });
  });
}
