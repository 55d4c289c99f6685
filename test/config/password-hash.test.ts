// Password hashes: scrypt round trip, tampering and unsafe parameters; Dovecot's SHA-crypt and
// salted SHA-2 schemes checked against hashes doveadm and glibc made; the schemes we cannot check.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { hashPassword, hashProblem, verifyPassword } from '../../src/config/password-hash.js';
import { configSchema } from '../../src/config/schema.js';
import { doveadmHash, dovecotMissing } from '../support/dovecot.js';

describe('password hashes', () => {
  it('verifies the right password and refuses a wrong one', async () => {
    const hash = await hashPassword('correct horse', { N: 1024 });
    expect(hash).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
    expect(await verifyPassword('correct horse', hash)).toBe(true);
    expect(await verifyPassword('correct horsf', hash)).toBe(false);
    expect(await verifyPassword('', hash)).toBe(false);
  });

  it('makes hashes the config schema accepts', async () => {
    const hash = await hashPassword('pw', { N: 1024 });
    const parsed = configSchema.safeParse({
      spool: { dir: '/x' },
      smtp: { accounts: [{ user: 'alice@x.test', password_hash: hash }] },
    });
    expect(parsed.success).toBe(true);
  });

  it('refuses tampered and unsafe hashes without throwing', async () => {
    const hash = await hashPassword('pw', { N: 1024 });
    const parts = hash.split('$');
    expect(await verifyPassword('pw', [...parts.slice(0, 5), `AAAA${parts[5]!.slice(4)}`].join('$'))).toBe(false);
    expect(await verifyPassword('pw', hash.replace('$1024$', '$1000$'))).toBe(false); // not a power of two
    expect(await verifyPassword('pw', hash.replace('$1024$', `$${2 ** 24}$`))).toBe(false); // memory bomb
    expect(await verifyPassword('pw', 'plain')).toBe(false);
  });
});

const noDoveadm = dovecotMissing();

describe.skipIf(noDoveadm)(`Dovecot hashes made by doveadm pw${noDoveadm ? ` (skipped: ${noDoveadm})` : ''}`, () => {
  const schemes = ['SHA512-CRYPT', 'SHA256-CRYPT', 'SSHA512', 'SSHA256'];
  for (const scheme of schemes) {
    it(`verifies {${scheme}} and refuses a wrong password`, async () => {
      const hash = doveadmHash(scheme, 'correct horse');
      expect(hash.startsWith(`{${scheme}}`)).toBe(true);
      expect(hashProblem(hash)).toBeUndefined();
      expect(await verifyPassword('correct horse', hash)).toBe(true);
      expect(await verifyPassword('correct horsf', hash)).toBe(false);
      expect(await verifyPassword('', hash)).toBe(false);
    });
  }

  it('reads explicit rounds and long, non-ASCII passwords (SHA-crypt blocks past 64 bytes)', async () => {
    const long = `pässwörd-${'x'.repeat(150)}`;
    const hash = execFileSync('doveadm', ['pw', '-s', 'SHA512-CRYPT', '-r', '7000', '-p', long], {
      encoding: 'utf8',
    }).trim();
    expect(hash).toMatch(/^\{SHA512-CRYPT\}\$6\$rounds=7000\$/);
    expect(await verifyPassword(long, hash)).toBe(true);
    expect(await verifyPassword(long.slice(1), hash)).toBe(false);
  });

  it('refuses the schemes Node cannot check, saying what to do instead', () => {
    expect(hashProblem(doveadmHash('BLF-CRYPT', 'x'))).toMatch(/cannot be checked here.*dovecot_auth/);
    // Debian's doveadm default {CRYPT} is bcrypt ($2y$)
    expect(hashProblem(doveadmHash('CRYPT', 'x'))).toMatch(/cannot be checked here/);
    expect(hashProblem('{PLAIN}secret')).toMatch(/must be an scrypt hash/);
  });
});

describe('SHA-crypt bounds', () => {
  it("checks glibc's own $5$ output (Python's crypt) and refuses rounds past the cap", async () => {
    const glibc = '$5$rounds=12000$saltsaltsaltsalt$a6oITP7sYYD/GTmMPKfEcfYkXm3lmcBeevd.ZKLR3EC';
    expect(await verifyPassword('secret', `{CRYPT}${glibc}`)).toBe(true);
    expect(await verifyPassword('secret', `{SHA256-CRYPT}${glibc}`)).toBe(true);
    // the scheme name must match the algorithm
    expect(await verifyPassword('secret', `{SHA512-CRYPT}${glibc}`)).toBe(false);
    const costly = glibc.replace('rounds=12000', 'rounds=999999999');
    expect(hashProblem(`{CRYPT}${costly}`)).toBeDefined();
    expect(await verifyPassword('secret', `{CRYPT}${costly}`)).toBe(false);
  });
});
