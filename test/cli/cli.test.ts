// The CLI as an admin runs it: the installed entry `dist/cli/entry.cjs` (package.json bin) in a child
// process (npm test builds first).
import { execFile } from 'node:child_process';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseZoneFile } from '../../src/dns/zone-file.js';
import { zoneResolver } from '../../src/dns/zone-resolver.js';
import { selectDiscoveryRecord } from '../../src/native/protocol/dns-discovery.js';
import { tempDir } from '../support/tmp.js';

const run = promisify(execFile);
const main = path.join(import.meta.dirname, '../../dist/cli/entry.cjs');

async function cli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [main, ...args], {
      env: { PATH: process.env.PATH, ...env },
    });
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

  it('a bad option exits 64 from every command, with its usage', async () => {
    for (const command of ['start', 'check-config', 'queue', 'status', 'tokens', 'config', 'keys', 'staging']) {
      const { code, stderr } = await cli([command, '--no-such-option', 'x']);
      expect(code, `mailbridge ${command}`).toBe(64);
      expect(stderr, `mailbridge ${command}`).toMatch(/Usage: mailbridge/);
    }
  });

  it('check-config names the environment variable behind a bad value, not a line of the file', async () => {
    const file = path.join(dir, 'env.yaml');
    await writeFile(file, `spool:\n  dir: ${dir}\nredis:\n  prefix: "{t}"\n`);
    const { code, stderr } = await cli(['check-config', file], { REDIS_URL: 'bogus' });
    expect(code).toBe(2);
    expect(stderr).toContain(
      `${file}: redis.url: must be a redis:// or rediss:// URL (set by environment variable REDIS_URL)`,
    );
  });

  it('check-config checks the files the config names: missing is an error at its line, a readable key a warning', async () => {
    const key = path.join(dir, 'open.key');
    await writeFile(key, 'not checked for content here');
    await chmod(key, 0o644);
    const file = path.join(dir, 'files.yaml');
    await writeFile(
      file,
      [
        `spool:\n  dir: ${path.join(dir, 'new-spool', 'deeper')}`,
        'smtp:\n  listeners:\n    - role: mx\n      port: 2525',
        `      tls:\n        key: ${path.join(dir, 'missing.key')}\n        cert: ${path.join(dir, 'missing.crt')}`,
        `pmtp:\n  domain: example.org\n  key_file: ${key}`,
        '',
      ].join('\n'),
    );
    const { code, stderr, stdout } = await cli(['check-config', file]);
    expect(code).toBe(2);
    expect(stderr).toContain(`${file}:8: smtp.listeners.0.tls.key: ${path.join(dir, 'missing.key')} does not exist`);
    expect(stderr).toContain(`${file}:9: smtp.listeners.0.tls.cert: ${path.join(dir, 'missing.crt')} does not exist`);
    expect(stderr).toMatch(new RegExp(`${file}:12: pmtp.key_file: warning: .*readable by others \\(mode 644\\)`));
    // a spool folder that does not exist yet is fine: the gateway creates it
    expect(stderr).not.toContain('spool.dir');
    expect(stdout).toBe('');
    const skipped = await cli(['check-config', '--no-files', file]);
    expect(skipped.code).toBe(0);
  });

  it('config prints every key with its default, and -n only what the file or environment sets', async () => {
    const file = path.join(dir, 'postconf.yaml');
    await writeFile(file, `spool:\n  dir: spool\npmtp:\n  domain: example.org\n`);
    const all = await cli(['config', '-c', file]);
    expect(all.code).toBe(0);
    expect(all.stdout).toContain(`spool.dir = ${path.join(dir, 'spool')}\n`);
    expect(all.stdout).toContain('pmtp.clock_skew_s = 60\n');
    const set = await cli(['config', '-n', '-c', file], { REDIS_URL: 'redis://:secret@127.0.0.1:6390' });
    expect(set.stdout).toBe(
      `redis.url = redis://:****@127.0.0.1:6390\nspool.dir = ${path.join(dir, 'spool')}\npmtp.domain = example.org\n`,
    );
    const one = await cli(['config', '-c', file, 'pmtp.domain']);
    expect(one.stdout).toBe('pmtp.domain = example.org\n');
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

  it('keys rotate, list, revoke and forget walk the key ring; usage mistakes exit 64', async () => {
    const out = path.join(dir, 'ring');
    const generated = await cli(['keys', 'generate', '--domain', 'ring.test', '--out', out]);
    expect(generated.code).toBe(0);
    const config = path.join(dir, 'ring.yaml');
    const ringFile = path.join(dir, 'ring.json');
    await writeFile(
      config,
      [
        `spool: { dir: ${JSON.stringify(path.join(dir, 'ring-spool'))} }`,
        'pmtp:',
        '  domain: ring.test',
        `  key_file: ${JSON.stringify(path.join(out, 'ring.test.pmtp.key'))}`,
        `  key_ring_file: ${JSON.stringify(ringFile)}`,
        '  public_url: https://pmtp.ring.test',
        '',
      ].join('\n'),
    );
    for (const bad of [
      ['keys', 'list'],
      ['keys', 'revoke', 'nonsense', '-c', config],
    ]) {
      expect((await cli(bad)).code, bad.join(' ')).toBe(64);
    }
    const before = await cli(['keys', 'list', '--json', '-c', config]);
    expect(before.code, before.stderr).toBe(0);
    const [seed] = JSON.parse(before.stdout) as { key_id: string; state: string }[];
    expect(seed?.state).toBe('current');

    const rotated = await cli(['keys', 'rotate', '-c', config]);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect((await stat(ringFile)).mode & 0o777).toBe(0o600);
    const fresh = /fp=(ed25519:[\w-]+)/.exec(rotated.stdout)?.[1];
    expect(fresh).toBeDefined();
    const listed = JSON.parse((await cli(['keys', 'list', '--json', '-c', config])).stdout) as {
      key_id: string;
      state: string;
    }[];
    expect(listed.map((k) => [k.key_id, k.state])).toEqual([
      [seed?.key_id, 'current'],
      [fresh, 'next'],
    ]);
    expect((await cli(['keys', 'rotate', '-c', config])).code).toBe(65);
    const revoked = await cli(['keys', 'revoke', seed!.key_id, '-c', config]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toContain(`${seed!.key_id}  revoked`);
    expect(revoked.stdout).toContain(`${fresh}  current`);
    expect((await cli(['keys', 'forget', seed!.key_id, '-c', config])).code).toBe(0);
    const after = JSON.parse((await cli(['keys', 'list', '--json', '-c', config])).stdout) as { key_id: string }[];
    expect(after.map((k) => k.key_id)).toEqual([fresh]);
  }, 120_000);
});
