// What a benchmark is to the runner (bench/runner.ts): it returns tables of named numbers, one
// set per run; the runner takes each cell's median over the runs and prints and reports those.

export interface BenchOptions {
  /** overrides the benchmark's message count (small values to check that it works at all) */
  readonly messages?: number;
  /** the process environment, read only by the runner (REDIS_URL) */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** progress lines while a run is going */
  readonly log: (line: string) => void;
  /** Node flags for gateway child processes (`--cpu-prof` to profile them) */
  readonly childNodeArgs: readonly string[];
}

export interface Column {
  readonly key: string;
  readonly label: string;
  /** digits after the decimal point when printed */
  readonly digits: number;
}

export interface Row {
  /** the first column: what the row measured; the same label in every run */
  readonly label: string;
  readonly values: Readonly<Record<string, number>>;
}

export interface ResultTable {
  readonly id: string;
  /** the header of the first column */
  readonly rowHeader: string;
  readonly columns: readonly Column[];
  readonly rows: readonly Row[];
}

export interface Benchmark {
  readonly summary: string;
  /** One run; throws when the run did not do its work (a message lost, a peer failing). */
  run(options: BenchOptions): Promise<ResultTable[]>;
}

/** The middle value; for an even count the mean of the two middle ones. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0..100) of a non-empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('percentile of no values');
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

/**
 * Per-cell medians of the same table over several runs, matched by table id, row label and column
 * key. A cell missing from some run is the median of the runs that have it.
 */
export function medianTables(runs: readonly (readonly ResultTable[])[]): ResultTable[] {
  const first = runs[0] ?? [];
  return first.map((table) => {
    const same = runs
      .map((tables) => tables.find((t) => t.id === table.id))
      .filter((t): t is ResultTable => t !== undefined);
    const rows = table.rows.map((row) => {
      const values: Record<string, number> = {};
      for (const column of table.columns) {
        const cells = same
          .map((t) => t.rows.find((r) => r.label === row.label)?.values[column.key])
          .filter((v): v is number => v !== undefined && Number.isFinite(v));
        if (cells.length > 0) values[column.key] = median(cells);
      }
      return { label: row.label, values };
    });
    return { ...table, rows };
  });
}

function formatNumber(value: number | undefined, digits: number): string {
  return value === undefined ? '–' : value.toFixed(digits);
}

/** Left-aligned first column, right-aligned numbers, columns padded to the widest cell. */
export function formatTable(table: ResultTable): string {
  const header = [table.rowHeader, ...table.columns.map((c) => c.label)];
  const rows = table.rows.map((r) => [r.label, ...table.columns.map((c) => formatNumber(r.values[c.key], c.digits))]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** The same table as Markdown. */
export function markdownTable(table: ResultTable): string {
  const header = [table.rowHeader, ...table.columns.map((c) => c.label)];
  const rows = table.rows.map((r) => [r.label, ...table.columns.map((c) => formatNumber(r.values[c.key], c.digits))]);
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), `|${header.map((_, i) => (i === 0 ? '---' : '--:')).join('|')}|`, ...rows.map(line)].join('\n');
}

/** Reads `--name N` from argv; undefined when absent; throws when not a positive number. */
export function numberOption(argv: readonly string[], name: string): number | undefined {
  const at = argv.indexOf(name);
  if (at < 0) return undefined;
  const value = Number(argv[at + 1]);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} needs a positive number`);
  return value;
}
