// docs/configuration.md must name every key the schema accepts, with the schema's default.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configKeyPaths } from '../../src/config/key-paths.js';
import { envOverrides } from '../../src/config/schema.js';

const doc = await readFile(path.join(import.meta.dirname, '../../docs/configuration.md'), 'utf8');
const rows = new Map(
  doc
    .split('\n')
    .filter((line) => line.startsWith('| `'))
    .map((line) => {
      const cells = line.split('|').map((c) => c.trim());
      return [cells[1]!.replace(/`/g, ''), cells[2]!] as const;
    }),
);

describe('docs/configuration.md', () => {
  it('has a row for every key', () => {
    const missing = configKeyPaths()
      .map((k) => k.path)
      .filter((p) => !rows.has(p));
    expect(missing).toEqual([]);
  });

  it('shows each scalar default as the schema has it', () => {
    for (const key of configKeyPaths()) {
      const value = key.default;
      if (value === undefined || typeof value === 'object') continue;
      expect(rows.get(key.path), key.path).toBe(`\`${String(value)}\``);
    }
  });

  it('lists every environment override', () => {
    for (const name of Object.keys(envOverrides)) expect(doc).toContain(`| \`${name}\` |`);
  });
});
