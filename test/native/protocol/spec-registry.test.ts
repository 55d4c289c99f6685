// docs/protocol.md §16.2 is the PMTP/1 error-code registry: it must list exactly the codes of
// src/codes.ts, with the same HTTP status and retryable flag, one row per code in ASCII order.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { statusTable } from '../../../src/codes.js';

interface Row {
  code: string;
  http: number;
  retryable: boolean;
}

async function registryRows(): Promise<Row[]> {
  const doc = await readFile(path.join(import.meta.dirname, '../../../docs/protocol.md'), 'utf8');
  const start = doc.indexOf('\n### 16.2 ');
  const end = doc.indexOf('\n### 16.3 ', start);
  expect(start, '§16.2 heading').toBeGreaterThan(0);
  expect(end, '§16.3 heading').toBeGreaterThan(start);
  return doc
    .slice(start, end)
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const match = /^\| `([a-z][a-z0-9_]*)` \| (\d{3}) \| (yes|no) \| [^|]+ \|$/.exec(line);
      if (!match) throw new Error(`§16.2 row does not parse: ${line}`);
      return { code: match[1] ?? '', http: Number(match[2]), retryable: match[3] === 'yes' };
    });
}

describe('§16.2 code registry', () => {
  it('lists every code of src/codes.ts with its HTTP status and retryable flag', async () => {
    const rows = await registryRows();
    const documented = new Map(rows.map((row) => [row.code, row]));
    for (const [code, entry] of Object.entries(statusTable)) {
      expect(documented.get(code), `${code} has no §16.2 row`).toEqual({
        code,
        http: entry.http,
        retryable: entry.retryable,
      });
    }
  });

  it('lists no code that src/codes.ts lacks, and none twice', async () => {
    const rows = await registryRows();
    const unknown = rows.map((row) => row.code).filter((code) => !Object.hasOwn(statusTable, code));
    expect(unknown).toEqual([]);
    expect(new Set(rows.map((row) => row.code)).size).toBe(rows.length);
  });

  it('keeps the rows in ASCII order so additions merge cleanly', async () => {
    const codes = (await registryRows()).map((row) => row.code);
    expect(codes).toEqual([...codes].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  });

  it('names only registered codes in §16.3', async () => {
    const doc = await readFile(path.join(import.meta.dirname, '../../../docs/protocol.md'), 'utf8');
    const start = doc.indexOf('\n### 16.3 ');
    const section = doc.slice(start, doc.indexOf('\n## ', start + 1));
    const verdicts = new Set(['valid', 'malformed', 'misplaced', 'invalid', 'future', 'stale', 'rejected']);
    const named = [...section.matchAll(/`([a-z][a-z0-9_]*)`/g)].map((m) => m[1] ?? '');
    expect(named.filter((code) => !verdicts.has(code) && !Object.hasOwn(statusTable, code))).toEqual([]);
  });
});
