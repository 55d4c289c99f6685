// The CLI as an admin runs it: the installed entry `dist/cli/entry.cjs` (package.json bin) in a child
// process (npm test builds first).
import { execFile } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseZoneFile } from '../../src/dns/zone-file.js';
import { zoneResolver } from '../../src/dns/zone-resolver.js';
import { selectDiscoveryRecord } from '../../src/native/protocol/dns-discovery.js';
import { tempDir } from '../support/tmp.js';

const run = promisify(execFile);
const main = path.join(import.meta.dirname, '../../dist/cli/entry.cjs');

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [main, ...args], { env: { PATH: process.env.PATH } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('mailbridge CLI', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeAll(async () => ({ dir, remove } = await tempDir('cli')));
  afterAll(() => remove());

  it('prints help with examples', async () => {
    const { code, stdout } = await cli(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/Usage: mailbridge <command>/);
    expect(stdout).toMatch(/Examples:/);
    expect(stdout).toMatch(/check-config/);
  });

  it('rejects an unknown command with a usage exit code', async () => {
    const { code, stderr } = await cli(['frobnicate']);
    expect(code).toBe(64);
    expect(stderr).toMatch(/unknown command 'frobnicate'/);
  });

  it('check-config passes the example config', async () => {
    const { code, stdout } = await cli([
      'check-config',
      path.join(import.meta.dirname, '../../examples/mailbridge.yaml'),
    ]);
    expect(stdout).toMatch(/: ok$/m);
    expect(code).toBe(0);
  });

  it('check-config names the key and line of a wrong type and exits 2', async () => {
    const file = path.join(dir, 'bad.yaml');
    await writeFile(file, 'spool:\n  dir: /tmp/x\nlimits:\n  message_size_bytes: lots\n');
    const { code, stderr } = await cli(['check-config', file]);
    expect(code).toBe(2);
    expect(stderr).toContain(`${file}:4: limits.message_size_bytes:`);
  });

  it('keys generate writes private keys 0600 and prints zone records that parse and resolve', async () => {
    const out = path.join(dir, 'keys');
    const { code, stdout } = await cli([
      'keys',
      'generate',
      '--domain',
      'Alpha.TEST',
      '--out',
      out,
      '--selector',
      's1',
      '--endpoint',
      'https://pmtp.alpha.test',
    ]);
    expect(code).toBe(0);
    expect((await stat(path.join(out, 'alpha.test.pmtp.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(out, 'alpha.test.dkim.key'))).mode & 0o777).toBe(0o600);
    expect(await readFile(path.join(out, 'alpha.test.dkim.key'), 'utf8')).toMatch(/BEGIN PRIVATE KEY/);

    const resolver = zoneResolver(parseZoneFile(stdout, { origin: 'alpha.test.' }));
    const dkim = (await resolver.resolveTxt('s1._domainkey.alpha.test')).map((strings) => strings.join(''));
    expect(dkim[0]).toMatch(/^v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]{300,}$/);
    const discovery = selectDiscoveryRecord(await resolver.resolveTxt('_pmtp.alpha.test'));
    expect(discovery).toMatchObject({ ok: true, value: { endpoint: 'https://pmtp.alpha.test' } });

    const again = await cli(['keys', 'generate', '--domain', 'alpha.test', '--out', out]);
    expect(again.code).toBe(65);
    expect(again.stderr).toMatch(/exists; pass --force/);
  });
});
