// What a benchmark is to the runner (src/bench/main.ts), and the one way results are printed:
// a plain text table, so figures can be pasted into docs/benchmarks.md as they are.

export interface BenchContext {
  readonly out: NodeJS.WritableStream;
  /** the process environment, read only by the runner (REDIS_URL) */
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface Benchmark {
  readonly summary: string;
  /** Runs the benchmark, writing its table to `out`; throws when a run did not do its work. */
  run(argv: readonly string[], context: BenchContext): Promise<void>;
}

/** Left-aligned first column, right-aligned numbers, columns padded to the widest cell. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
