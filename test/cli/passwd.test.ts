// `mailbridge passwd` as an admin runs it (the built entry, password on stdin): the hash it prints
// loads as smtp.accounts[].password_hash and logs in; --verify checks our and Dovecot's hashes.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyPassword } from '../../src/config/password-hash.js';
import { testConfig } from '../support/config.js';
import { doveadmHash, dovecotMissing } from '../support/dovecot.js';

const main = path.join(import.meta.dirname, '../../dist/cli/entry.cjs');

function passwd(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [main, 'passwd', ...args], { env: { PATH: process.env.PATH } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

describe('mailbridge passwd', () => {
  it('hashes the first line of stdin into a hash the config loads and that verifies', async () => {
    const { code, stdout } = await passwd([], 'correct horse\nignored second line\n');
    expect(code).toBe(0);
    const hash = stdout.trim();
    expect(hash).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(await verifyPassword('correct horse', hash)).toBe(true);
    expect(await verifyPassword('ignored second line', hash)).toBe(false);
    const config = testConfig({
      spool: { dir: '/tmp/unused' },
      smtp: { accounts: [{ user: 'alice@native.test', password_hash: hash }] },
    });
    expect(config.smtp.accounts[0]?.password_hash).toBe(hash);
  });

  it('refuses an empty password with exit 65', async () => {
    const { code, stderr } = await passwd([], '\n');
    expect(code).toBe(65);
    expect(stderr).toMatch(/empty password/);
  });

  it('--verify exits 0 on a match and 1 otherwise, and 65 for a hash it cannot read', async () => {
    const { stdout } = await passwd([], 'pw\n');
    expect((await passwd(['--verify', stdout.trim()], 'pw\n')).code).toBe(0);
    expect((await passwd(['--verify', stdout.trim()], 'pW\n')).code).toBe(1);
    expect((await passwd(['--verify', '{PLAIN}pw'], 'pw\n')).code).toBe(65);
  });

  it.skipIf(dovecotMissing())('--verify checks a {SHA512-CRYPT} hash made by doveadm', async () => {
    const hash = doveadmHash('SHA512-CRYPT', 'dovecot pw');
    expect((await passwd(['--verify', hash], 'dovecot pw\n')).stdout).toBe('match\n');
    expect((await passwd(['--verify', hash], 'other\n')).stdout).toBe('no match\n');
  });
});
