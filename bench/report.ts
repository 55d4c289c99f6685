// Renders docs/benchmarks.md from the median tables: the machine, then each section of
// report-text.ts with its tables, its targets judged on the figures, and its hand-written
// explanation. The figures also go to docs/benchmarks.json, so a run of a few benchmarks can
// replace their sections and keep the others.

import type { ResultTable } from './benchmark.js';
import { markdownTable } from './benchmark.js';
import { describeMachineLines, type Machine } from './machine.js';

export interface BenchResult {
  readonly tables: readonly ResultTable[];
  readonly runs: number;
  readonly seconds: number;
  readonly machine: Machine;
}

export interface StoredResults {
  /** the machine of the run that wrote the file */
  readonly machine: Machine;
  readonly benchmarks: Readonly<Record<string, BenchResult>>;
}

/** Read access to the median figures for the hand-written text. */
export interface Figures {
  get(bench: string, table: string, row: string, column: string): number | undefined;
  /** the figure printed with `digits` decimals, or "–" when it was not measured */
  show(bench: string, table: string, row: string, column: string, digits?: number): string;
  readonly machine: Machine;
}

export interface Target {
  readonly what: string;
  readonly at: readonly [bench: string, table: string, row: string, column: string];
  readonly op: '>=' | '<=';
  readonly limit: number;
  readonly unit: string;
}

export interface Section {
  readonly title: string;
  /** benchmark names, for the command line and to know which results the section needs */
  readonly benchmarks: readonly string[];
  readonly intro: string;
  readonly tables: readonly (readonly [bench: string, table: string])[];
  readonly targets: readonly Target[];
  /** explanations that depend on the figures */
  explain(figures: Figures): readonly string[];
}

export function figuresOf(stored: StoredResults): Figures {
  const get = (bench: string, table: string, row: string, column: string): number | undefined =>
    stored.benchmarks[bench]?.tables.find((t) => t.id === table)?.rows.find((r) => r.label === row)?.values[column];
  return {
    get,
    show: (bench, table, row, column, digits = 0) => get(bench, table, row, column)?.toFixed(digits) ?? '–',
    machine: stored.machine,
  };
}

/** "met" or "missed by N %", with the figure and the limit. */
export function verdict(target: Target, value: number | undefined): string {
  const sign = target.op === '>=' ? '≥' : '≤';
  const limit = `${sign} ${target.limit} ${target.unit}`.trimEnd();
  if (value === undefined) return `${target.what}: target ${limit}, not measured`;
  const shown = `${Number(value.toFixed(2))} ${target.unit}`.trimEnd();
  const met = target.op === '>=' ? value >= target.limit : value <= target.limit;
  if (met) return `${target.what}: **met** (${shown}; target ${limit})`;
  const by = target.op === '>=' ? (1 - value / target.limit) * 100 : (value / target.limit - 1) * 100;
  return `${target.what}: **missed by ${by.toFixed(0)} %** (${shown}; target ${limit})`;
}

export function renderReport(stored: StoredResults, intro: string, sections: readonly Section[]): string {
  const figures = figuresOf(stored);
  const m = stored.machine;
  const out: string[] = [
    '# Benchmarks',
    '',
    '<!-- Written by `npm run bench` (bench/report.ts); the prose is in bench/report-text.ts. -->',
    '',
    intro,
    '',
    '## The machine',
    '',
    `Measured ${m.date}, on:`,
    '',
    ...describeMachineLines(m),
    '',
    `The benchmarks below took ${(Object.values(stored.benchmarks).reduce((sum, r) => sum + r.seconds, 0) / 60).toFixed(1)} minutes in all.`,
    '',
  ];
  for (const section of sections) {
    const results = section.benchmarks.map((b) => [b, stored.benchmarks[b]] as const);
    const names = section.benchmarks.join(' ');
    out.push(`## ${section.title} (\`npm run bench -- ${names}\`)`, '', section.intro, '');
    if (results.some(([, r]) => r === undefined)) {
      out.push(`_Not measured yet: run \`npm run bench -- ${names}\`._`, '');
      continue;
    }
    for (const [name, result] of results) {
      const other = result!.machine.date !== m.date;
      out.push(
        `Median of ${result!.runs} runs (${result!.seconds.toFixed(0)} s in all)${other ? `, measured alone on ${result!.machine.date} (load average ${result!.machine.loadAverage.toFixed(2)})` : ''} — \`${name}\`.`,
        '',
      );
    }
    for (const [bench, id] of section.tables) {
      const table = stored.benchmarks[bench]!.tables.find((t) => t.id === id);
      if (table) out.push(markdownTable(table), '');
    }
    for (const target of section.targets) out.push(`- ${verdict(target, figures.get(...target.at))}`);
    if (section.targets.length > 0) out.push('');
    for (const paragraph of section.explain(figures)) out.push(paragraph, '');
  }
  return `${out.join('\n').trimEnd()}\n`;
}
