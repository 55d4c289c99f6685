#!/usr/bin/env node
// The benchmark runner: `npm run bench -- [name...] [--runs N] [--messages N] [--cpu-prof-dir DIR]
// [--write|--no-write]` runs the named benchmarks (or all) N times each (default 3), prints the
// per-cell medians, and writes docs/benchmarks.md after a full run at full load (or with --write; a
// partial run then replaces only its benchmarks' figures); `--render` only rewrites the report from
// docs/benchmarks.json. Register a benchmark with one line below.

import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type Benchmark, formatTable, medianTables, numberOption, type ResultTable } from './benchmark.js';
import { describeMachine } from './machine.js';
import { type BenchResult, renderReport, type StoredResults } from './report.js';
import { intro, sections } from './report-text.js';

const registry: Record<string, () => Promise<Benchmark>> = {
  'smtp-in': async () => (await import('./smtp-in.js')).benchmark,
  e2e: async () => (await import('./end-to-end.js')).benchmark,
  pmtp: async () => (await import('./pmtp.js')).benchmark,
  'smtp-out': async () => (await import('./smtp-out.js')).benchmark,
  idle: async () => (await import('./idle-connections.js')).benchmark,
  scaling: async () => (await import('./scaling.js')).benchmark,
};

const docs = (name: string): string => fileURLToPath(new URL(`../../docs/${name}`, import.meta.url));

async function main(argv: string[]): Promise<number> {
  const names = argv.filter((a) => a in registry);
  const valued = new Set(['--runs', '--messages', '--cpu-prof-dir']);
  const stray = argv.find(
    (a, i) =>
      !(a in registry) &&
      !valued.has(a) &&
      !valued.has(argv[i - 1] ?? '') &&
      !['--write', '--no-write', '--render'].includes(a),
  );
  if (stray !== undefined) {
    process.stderr.write(
      `bench: unknown argument '${stray}'; benchmarks: ${Object.keys(registry).join(', ')}; options: --runs N, --messages N, --cpu-prof-dir DIR, --write, --no-write, --render\n`,
    );
    return 64;
  }
  if (argv.includes('--render')) {
    // the text changed, the figures did not: rewrite the report from the stored figures
    const stored = await readStored();
    if (!stored) throw new Error('docs/benchmarks.json is missing; run `npm run bench` first');
    await writeFile(docs('benchmarks.md'), renderReport(stored, intro, sections));
    process.stdout.write('wrote docs/benchmarks.md from docs/benchmarks.json\n');
    return 0;
  }
  const runs = numberOption(argv, '--runs') ?? 3;
  const messages = numberOption(argv, '--messages');
  const profileDir = argv[argv.indexOf('--cpu-prof-dir') + 1];
  // the runner itself is profiled with `node --cpu-prof dist-bench/bench/runner.js`; this reaches the gateway children
  const childNodeArgs =
    argv.includes('--cpu-prof-dir') && profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [];
  const full = names.length === 0;
  // a report needs every benchmark at full load, three runs or more; anything else is a check unless --write says so
  const write =
    argv.includes('--write') || (full && runs >= 3 && messages === undefined && !argv.includes('--no-write'));
  const env = process.env;
  const machine = await describeMachine(env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  process.stdout.write(
    `machine: ${machine.cpuCount} × ${machine.cpu}, load ${machine.loadAverage.toFixed(2)}, ${machine.syncWritesPerS.toFixed(0)} sync writes/s\n`,
  );

  const started = performance.now();
  const results: Record<string, BenchResult> = {};
  for (const name of full ? Object.keys(registry) : names) {
    const benchmark = await registry[name]!();
    process.stdout.write(`\n== ${name}: ${benchmark.summary}\n`);
    const benchStarted = performance.now();
    const perRun: ResultTable[][] = [];
    for (let i = 1; i <= runs; i++) {
      const log = (line: string): void => void process.stdout.write(`  [${name} ${i}/${runs}] ${line}\n`);
      perRun.push(await benchmark.run({ ...(messages ? { messages } : {}), env, log, childNodeArgs }));
    }
    const tables = medianTables(perRun);
    for (const table of tables) process.stdout.write(`\n${table.id} (median of ${runs}):\n${formatTable(table)}\n`);
    results[name] = { tables, runs, seconds: (performance.now() - benchStarted) / 1000, machine };
  }
  process.stdout.write(`\nall benchmarks: ${((performance.now() - started) / 1000).toFixed(0)} s\n`);

  if (write) {
    const previous = full ? undefined : await readStored();
    const stored: StoredResults = {
      machine: previous?.machine ?? machine,
      benchmarks: { ...previous?.benchmarks, ...results },
    };
    await writeFile(docs('benchmarks.json'), `${JSON.stringify(stored, null, 1)}\n`);
    await writeFile(docs('benchmarks.md'), renderReport(stored, intro, sections));
    process.stdout.write(`wrote docs/benchmarks.md and docs/benchmarks.json\n`);
  }
  return 0;
}

async function readStored(): Promise<StoredResults | undefined> {
  const text = await readFile(docs('benchmarks.json'), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as StoredResults);
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 70;
  },
);
