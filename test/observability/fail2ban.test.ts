// fail2ban against a real gateway's log: three failed SMTP logins from one address, a real
// fail2ban-server with the shipped filter (deploy/fail2ban/) and a dummy ban action, and the
// address is banned; the filter also matches the text log format. Skips only without fail2ban.
import { execFile, spawnSync } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/config/password-hash.js';
import { createLogger } from '../../src/log.js';
import { startMailbridge, type TestMailbridge } from '../support/mailbridge.js';
import { sendWithSwaks } from '../support/swaks.js';
import { tempDir } from '../support/tmp.js';

const run = promisify(execFile);
const filter = path.join(import.meta.dirname, '../../deploy/fail2ban/filter.d/mailbridge.conf');
const haveFail2ban = spawnSync('fail2ban-server', ['-V']).status === 0;

async function until(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.skipIf(!haveFail2ban)('fail2ban filter (needs Debian fail2ban)', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let gateway: TestMailbridge;
  beforeAll(async () => {
    ({ dir, remove } = await tempDir('fail2ban'));
    gateway = await startMailbridge(dir, {
      spool: { dir: 'spool' },
      smtp: {
        listeners: [{ role: 'submission', host: '127.0.0.1', port: 0, allow_insecure_auth: true }],
        accounts: [{ user: 'alice@f2b.test', password_hash: await hashPassword('right', { N: 1024 }) }],
      },
    });
  }, 30_000);
  afterAll(async () => {
    await gateway?.stop();
    await run('fail2ban-client', ['-c', path.join(dir, 'conf'), 'stop']).catch(() => undefined);
    await remove();
  });

  it('bans an address after three failed logins in the gateway log', async () => {
    for (let i = 0; i < 3; i++) {
      const reply = await sendWithSwaks({
        server: `127.0.0.1:${gateway.port('submission')}`,
        from: 'alice@f2b.test',
        to: 'bob@elsewhere.test',
        subject: 'guess',
        auth: { user: 'alice@f2b.test', password: `wrong-${i}` },
      });
      expect(reply).toMatch(/535 5\.7\.8/);
    }
    const logFile = path.join(dir, 'mailbridge.log');
    await until(async () => ((await readFile(logFile, 'utf8')).match(/authentication failed/g) ?? []).length === 3);

    const conf = path.join(dir, 'conf');
    await mkdir(path.join(conf, 'filter.d'), { recursive: true });
    await mkdir(path.join(conf, 'action.d'), { recursive: true });
    await copyFile(filter, path.join(conf, 'filter.d', 'mailbridge.conf'));
    await copyFile('/etc/fail2ban/action.d/dummy.conf', path.join(conf, 'action.d', 'dummy.conf'));
    await writeFile(
      path.join(conf, 'fail2ban.conf'),
      [
        '[Definition]',
        `logtarget = ${path.join(dir, 'fail2ban.log')}`,
        `socket = ${path.join(dir, 'fail2ban.sock')}`,
        `pidfile = ${path.join(dir, 'fail2ban.pid')}`,
        'dbfile = :memory:',
        '',
      ].join('\n'),
    );
    const banned = path.join(dir, 'banned');
    await writeFile(
      path.join(conf, 'jail.conf'),
      [
        '[DEFAULT]',
        // the test client is on loopback, which fail2ban ignores by default
        'ignoreself = false',
        'ignoreip =',
        'backend = polling',
        '[mailbridge-auth]',
        'enabled = true',
        'filter = mailbridge',
        `logpath = ${logFile}`,
        'maxretry = 3',
        'findtime = 600',
        'bantime = 600',
        `action = dummy[target=${banned}]`,
        '',
      ].join('\n'),
    );
    await run('fail2ban-server', ['-c', conf, '-x', '-b']);
    await until(async () => (await readFile(banned, 'utf8').catch(() => '')).includes('+127.0.0.1'));
    const { stdout } = await run('fail2ban-client', ['-c', conf, 'status', 'mailbridge-auth']);
    expect(stdout).toMatch(/Banned IP list:\s+127\.0\.0\.1/);
  }, 60_000);

  it('matches the text log format too', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const log = createLogger({ log: { level: 'info', format: 'text' } }, out);
    log.warn(
      { session: 's1', client: '2001:db8::7', role: 'submission', user: 'x', method: 'LOGIN' },
      'authentication failed',
    );
    log.info({ session: 's2', client: '192.0.2.9', role: 'submission' }, 'connect');
    await new Promise((r) => setImmediate(r));
    const sample = path.join(dir, 'text.log');
    await writeFile(sample, text);
    const { stdout } = await run('fail2ban-regex', [sample, filter]);
    expect(stdout).toMatch(/Lines: 2 lines, 0 ignored, 1 matched, 1 missed/);
  });
});
