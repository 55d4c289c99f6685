// SIGHUP changes submission logins on a running gateway: an account added to `smtp.accounts`
// logs in at the next AUTH, a removed one is refused, and the keys are applied live.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { hashPassword } from '../../src/config/password-hash.js';
import { type RunningGateway, startGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/log.js';
import { ConfigReloader, type ReloadOutcome } from '../../src/observability/reload.js';
import { RawSmtp } from '../inbound-smtp/raw-smtp.js';
import { deleteKeys, redisUrl, testPrefix } from '../support/redis.js';
import { hangUp } from '../support/sighup.js';
import { tempDir } from '../support/tmp.js';

describe('SIGHUP reloads accounts', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let gateway: RunningGateway;
  let stopListening: () => void;
  let port: number;
  const prefix = testPrefix();
  const outcomes: ReloadOutcome[] = [];
  const file = (): string => path.join(dir, 'mailbridge.yaml');
  const writeConfig = (accounts: { user: string; password_hash: string }[]): Promise<void> =>
    writeFile(
      file(),
      stringify({
        hostname: 'mx.reload.test',
        spool: { dir: 'spool' },
        redis: { url: redisUrl, prefix },
        log: { level: 'warn', file: 'mailbridge.log' },
        mailbox: { maildir_root: 'mail' },
        dns: { zone_file: 'zone.db' },
        smtp: { listeners: [{ role: 'submission', host: '127.0.0.1', port: 0, allow_insecure_auth: true }], accounts },
        domains: { mailbox: ['reload.test'], verify: { 'reload.test': { source: 'any' } } },
      }),
    );
  const plain = (user: string, password: string): string => Buffer.from(`\0${user}\0${password}`).toString('base64');
  async function login(user: string, password: string): Promise<string> {
    const session = await RawSmtp.connect(port);
    await session.command('EHLO laptop.example');
    const reply = await session.command(`AUTH PLAIN ${plain(user, password)}`);
    session.end();
    return reply;
  }

  beforeAll(async () => {
    ({ dir, remove } = await tempDir('accounts-reload'));
    await writeFile(path.join(dir, 'zone.db'), '$ORIGIN test.\n$TTL 300\n');
    await writeConfig([{ user: 'alice@reload.test', password_hash: await hashPassword('alice pw', { N: 1024 }) }]);
    const config = await loadConfig(file());
    const log = createLogger(config);
    gateway = await startGateway(config, log);
    const submission = gateway.listening.find((l) => l.service === 'smtp submission')!;
    port = Number(submission.address.slice(submission.address.lastIndexOf(':') + 1));
    const reloader = new ConfigReloader({
      file: file(),
      env: {},
      config,
      log,
      parts: gateway.reloadables,
      onReloaded: (o) => outcomes.push(o),
    });
    stopListening = reloader.listen();
  });
  afterAll(async () => {
    stopListening?.();
    await gateway?.close();
    await deleteKeys(prefix);
    await remove?.();
  });

  it('logs in an added account and refuses a removed one after SIGHUP, no restart needed', async () => {
    expect(await login('alice@reload.test', 'alice pw')).toMatch(/^235 /);
    expect(await login('bob@reload.test', 'bob pw')).toMatch(/^535 5\.7\.8/);
    await writeConfig([{ user: 'bob@reload.test', password_hash: await hashPassword('bob pw', { N: 1024 }) }]);
    const outcome = await hangUp(outcomes);
    expect(outcome).toMatchObject({ ok: true, failed: [], needsRestart: [] });
    expect(outcome.applied).toContain('accounts');
    expect(await login('bob@reload.test', 'bob pw')).toMatch(/^235 /);
    expect(await login('alice@reload.test', 'alice pw')).toMatch(/^535 5\.7\.8/);
  });
});
