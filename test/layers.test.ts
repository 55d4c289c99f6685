// The layering check of docs/architecture.md (scripts/check-layers.mjs), run as pretest runs it:
// the real tree passes, and a tree that breaks each rule once is refused with every break named.
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './support/tmp.js';

const run = promisify(execFile);
const script = path.join(import.meta.dirname, '../scripts/check-layers.mjs');

async function check(src: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await run(process.execPath, [script, src]);
    return { code: 0, out: stdout };
  } catch (err) {
    const failed = err as { code: number; stderr: string };
    return { code: failed.code, out: failed.stderr };
  }
}

describe('layering check', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, remove } = await tempDir('layers'));
    const files: Record<string, string> = {
      'queue/queues.ts': "import type { Route } from '../inbound-smtp/routing.js';\n",
      'inbound-smtp/routing.ts':
        "import { deliver } from '../outbound-smtp/deliver.js';\nimport { accept } from '../queue/queues.js';\n",
      'outbound-smtp/deliver.ts': "import { statusOf } from '../codes.js';\n",
      'native/protocol/frame.ts': "import { readFile } from 'node:fs/promises';\n",
      'native/keys/keys.ts': "import { serve } from '../server/app.js';\n",
      'native/server/app.ts': "import { keys } from '../keys/keys.js';\n",
      'codes.ts': '',
      'extras/thing.ts': '',
    };
    for (const [name, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
      await writeFile(path.join(dir, name), text);
    }
  });
  afterAll(async () => remove());

  it('passes the real tree', async () => {
    expect(await check(path.join(import.meta.dirname, '../src'))).toEqual({
      code: 0,
      out: 'layering: every import in src/ points down\n',
    });
  });

  it('names each import that points up or sideways, an impure protocol core and a folder in no layer', async () => {
    const result = await check(dir);
    expect(result.code).toBe(1);
    const lines = result.out.trim().split('\n').slice(1).sort();
    expect(lines).toEqual([
      expect.stringMatching(/extras\/thing\.ts: folder extras is in no layer/),
      expect.stringMatching(/inbound-smtp\/routing\.ts: inbound-smtp may not import outbound-smtp/),
      expect.stringMatching(/native\/keys\/keys\.ts: native\/keys may not import native\/server/),
      expect.stringMatching(
        /native\/protocol\/frame\.ts: the protocol core must stay pure, but imports node:fs\/promises/,
      ),
      expect.stringMatching(/queue\/queues\.ts: queue may not import inbound-smtp/),
    ]);
    expect(lines).toHaveLength(5);
  });
});
