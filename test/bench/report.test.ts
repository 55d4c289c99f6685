// The pure parts of the benchmark report: medians over runs, percentiles, target verdicts, and
// the Markdown the runner writes (machine, tables, verdicts, text that reads the figures).
import { describe, expect, it } from 'vitest';
import { markdownTable, median, medianTables, percentile, type ResultTable } from '../../bench/benchmark.js';
import type { Machine } from '../../bench/machine.js';
import { renderReport, type Section, type Target, verdict } from '../../bench/report.js';

const table = (rate: number, ratio: number, extra?: number): ResultTable => ({
  id: 'accept',
  rowHeader: 'load',
  columns: [
    { key: 'rate', label: 'msg/s', digits: 0 },
    { key: 'ratio', label: 'ratio', digits: 2 },
  ],
  rows: [{ label: '10 sessions', values: extra === undefined ? { rate, ratio } : { rate, ratio, extra } }],
});

const machine: Machine = {
  date: '2026-11-30T09:00:00Z',
  cpu: 'Test CPU',
  cpuCount: 2,
  ramGiB: 24,
  kernel: 'Linux 6.1',
  node: 'v20.20.0',
  postfix: '3.7.11',
  redis: '7.0.15',
  syncWritesPerS: 400,
  loadAverage: 0.5,
};

describe('median and percentile', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(() => median([])).toThrow();
  });

  it('uses the nearest rank', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile([5, 1], 50)).toBe(1);
  });
});

describe('medianTables', () => {
  it('takes each cell median over runs, matched by table, row and column, ratios included', () => {
    const [m] = medianTables([[table(100, 0.5)], [table(300, 0.9)], [table(200, 0.6)]]);
    expect(m!.rows[0]!.values).toEqual({ rate: 200, ratio: 0.6 });
  });

  it('skips runs that lack a cell instead of counting them as zero', () => {
    const runs = [[table(100, 1)], [{ ...table(200, 1), rows: [] }], [table(300, 1)]];
    expect(medianTables(runs)[0]!.rows[0]!.values.rate).toBe(200);
  });
});

describe('verdict', () => {
  const target: Target = { what: 'ratio', at: ['b', 't', 'r', 'c'], op: '>=', limit: 2, unit: '×' };
  it('says met, or missed by how much', () => {
    expect(verdict(target, 2.5)).toBe('ratio: **met** (2.5 ×; target ≥ 2 ×)');
    expect(verdict(target, 0.5)).toBe('ratio: **missed by 75 %** (0.5 ×; target ≥ 2 ×)');
    expect(verdict({ ...target, op: '<=', limit: 150, unit: 'MB' }, 165)).toBe(
      'ratio: **missed by 10 %** (165 MB; target ≤ 150 MB)',
    );
    expect(verdict(target, undefined)).toBe('ratio: target ≥ 2 ×, not measured');
  });
});

describe('renderReport', () => {
  const section: Section = {
    title: 'Accept',
    benchmarks: ['smtp-in'],
    intro: 'What it measures.',
    tables: [['smtp-in', 'accept']],
    targets: [{ what: 'ratio', at: ['smtp-in', 'accept', '10 sessions', 'ratio'], op: '>=', limit: 2, unit: '×' }],
    explain: (f) => [
      `Rate was ${f.show('smtp-in', 'accept', '10 sessions', 'rate')} on a disk of ${f.machine.syncWritesPerS} writes/s.`,
    ],
  };

  it('writes the machine, the median table, the verdict and text built from the figures', () => {
    const stored = { machine, benchmarks: { 'smtp-in': { tables: [table(200, 0.6)], runs: 3, seconds: 60, machine } } };
    const md = renderReport(stored, 'Intro.', [section]);
    expect(md).toContain('- CPU: 2 × Test CPU');
    expect(md).toContain('- Node v20.20.0, Postfix 3.7.11, Redis 7.0.15');
    expect(md).toContain('The benchmarks below took 1.0 minutes in all.');
    expect(md).toContain('## Accept (`npm run bench -- smtp-in`)');
    expect(md).toContain('Median of 3 runs (60 s in all) — `smtp-in`.');
    expect(md).toContain(markdownTable(table(200, 0.6)));
    expect(md).toContain('| 10 sessions | 200 | 0.60 |');
    expect(md).toContain('- ratio: **missed by 70 %** (0.6 ×; target ≥ 2 ×)');
    expect(md).toContain('Rate was 200 on a disk of 400 writes/s.');
  });

  it('marks a section not yet measured, and one measured apart from the full run', () => {
    expect(renderReport({ machine, benchmarks: {} }, 'Intro.', [section])).toContain(
      '_Not measured yet: run `npm run bench -- smtp-in`._',
    );
    const later = { ...machine, date: '2026-12-01T10:00:00Z', loadAverage: 1.25 };
    const md = renderReport(
      { machine, benchmarks: { 'smtp-in': { tables: [table(200, 0.6)], runs: 3, seconds: 60, machine: later } } },
      'Intro.',
      [section],
    );
    expect(md).toContain('measured alone on 2026-12-01T10:00:00Z (load average 1.25)');
  });
});
