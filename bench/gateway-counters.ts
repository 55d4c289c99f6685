// Preloaded (`node --import`) into a gateway child of the end-to-end benchmark: answers the
// parent's 'counters' message with this process's PMTP HTTP requests and file fsyncs so far.

import { open } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

// the gateway's own instance of the module (dist/), not the copy compiled with the benchmarks
const client = new URL('../../dist/native/client/pmtp-client.js', import.meta.url).href;
const { roundTrips } = (await import(client)) as typeof import('../src/native/client/pmtp-client.js');

let fsyncs = 0;
// every durable write in mailbridge goes through a FileHandle's sync() or datasync()
const probe = await open(fileURLToPath(import.meta.url), 'r');
const handles = Object.getPrototypeOf(probe) as { sync(): Promise<void>; datasync(): Promise<void> };
await probe.close();
for (const method of ['sync', 'datasync'] as const) {
  const original = handles[method];
  handles[method] = function (this: unknown) {
    fsyncs++;
    return original.call(this);
  };
}

export interface GatewayCounters {
  readonly roundTrips: number;
  readonly fsyncs: number;
}

process.on('message', (message) => {
  if (message === 'counters') process.send?.({ roundTrips: roundTrips.count, fsyncs } satisfies GatewayCounters);
});
// the IPC channel must not keep a gateway alive that was told to stop
process.channel?.unref();
