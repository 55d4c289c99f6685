#!/usr/bin/env node
// The benchmark runner: `npm run bench -- [name...] [options]` runs the named benchmarks, or every
// registered one. A benchmark is one file exporting `benchmark`; register it with one line below.

import type { Benchmark } from './benchmark.js';

const registry: Record<string, () => Promise<Benchmark>> = {
  'smtp-in': async () => (await import('./smtp-in.js')).benchmark,
  'smtp-out': async () => (await import('./smtp-out.js')).benchmark,
  pmtp: async () => (await import('./pmtp.js')).benchmark,
};

async function main(argv: string[]): Promise<number> {
  const names = argv.filter((a) => a in registry);
  const options = argv.filter((a) => !(a in registry));
  const unknown = options.find((a) => !a.startsWith('-') && !/^\d+$/.test(a));
  if (unknown !== undefined) {
    process.stderr.write(`bench: unknown benchmark '${unknown}'; known: ${Object.keys(registry).join(', ')}\n`);
    return 64;
  }
  for (const name of names.length > 0 ? names : Object.keys(registry)) {
    const benchmark = await registry[name]!();
    process.stdout.write(`\n== ${name}: ${benchmark.summary}\n`);
    await benchmark.run(options, { out: process.stdout, env: process.env });
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 70;
  },
);
