// scrypt password hashes: round trip, wrong password, tampering and unsafe parameters.
import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../../src/config/password-hash.js';
import { configSchema } from '../../src/config/schema.js';

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
