// The systemd unit and logrotate snippet in deploy/, checked by the tools that read them: systemd
// accepts the unit, its writable paths cover where the gateway writes (spool, Maildir, log), and a
// real logrotate run with the snippet moves a running gateway's log, which then writes a fresh one.
import { execFile, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { kill9, startGatewayProcess } from './support/gateway-process.js';
import { deleteKeys, redisUrl, testPrefix } from './support/redis.js';
import { tempDir } from './support/tmp.js';

const run = promisify(execFile);
const root = path.join(import.meta.dirname, '..');
const unitFile = path.join(root, 'deploy/systemd/mailbridge.service');
const has = (tool: string) => spawnSync(tool, ['--version']).status === 0;

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('deploy files', () => {
  const prefix = testPrefix();
  let dir: string;
  let remove: () => Promise<void>;
  beforeAll(async () => ({ dir, remove } = await tempDir('deploy-files')));
  afterAll(async () => {
    await deleteKeys(prefix);
    await remove();
  });

  it('the systemd unit lets the gateway write its spool, Maildir and log, and nothing else', async () => {
    const unit = await readFile(unitFile, 'utf8');
    const writable = (/^ReadWritePaths=(.*)$/m.exec(unit)?.[1] ?? '').split(/\s+/);
    expect(unit).toMatch(/^ProtectSystem=strict$/m);
    for (const p of ['/var/spool/mailbridge', '/var/mail/mailbridge', '/var/log/mailbridge'])
      expect(writable).toContain(p);
    const logrotate = await readFile(path.join(root, 'deploy/logrotate/mailbridge'), 'utf8');
    expect(logrotate.split('\n').find((l) => l.endsWith('{'))).toMatch(/^\/var\/log\/mailbridge\/\S+ \{$/);
  });

  it.skipIf(!has('systemd-analyze'))(
    'systemd accepts the unit (only the absent /usr/bin/mailbridge is reported)',
    () => {
      const verify = spawnSync('systemd-analyze', ['verify', unitFile]);
      const complaints = `${verify.stdout}${verify.stderr}`
        .split('\n')
        .filter((l) => l.trim() !== '' && !l.includes('Command /usr/bin/mailbridge is not executable'));
      expect(complaints).toEqual([]);
    },
  );

  it.skipIf(!has('logrotate'))(
    'a real logrotate run with the snippet: the gateway reopens and writes a fresh log',
    async () => {
      const logFile = path.join(dir, 'mailbridge.log');
      const config = path.join(dir, 'mailbridge.yaml');
      await writeFile(
        config,
        stringify({
          redis: { url: redisUrl, prefix },
          spool: { dir: path.join(dir, 'spool') },
          smtp: { listeners: [{ role: 'mx', host: '127.0.0.1', port: 0 }] },
          metrics: { enabled: false },
          log: { level: 'info', file: logFile },
        }),
      );
      const gateway = await startGatewayProcess(config);
      try {
        await until(async () => (await readFile(logFile, 'utf8').catch(() => '')).includes('smtp listener ready'));
        // the shipped snippet, pointed at this test's file, user and process instead of the system's
        const snippet = (await readFile(path.join(root, 'deploy/logrotate/mailbridge'), 'utf8'))
          .replace('/var/log/mailbridge/mailbridge.log', logFile)
          .replace('create 0640 mailbridge mailbridge', 'create 0640 root root')
          .replace(/systemctl kill --signal=SIGUSR2 mailbridge\.service[^\n]*/, `kill -USR2 ${gateway.child.pid}`);
        const conf = path.join(dir, 'logrotate.conf');
        await writeFile(conf, snippet);
        await run('logrotate', ['-f', '-s', path.join(dir, 'logrotate.state'), conf]);
        await until(async () => (await readFile(logFile, 'utf8').catch(() => '')).includes('log file reopened'));
        expect(await readFile(`${logFile}.1`, 'utf8')).toContain('smtp listener ready');
        expect(await readFile(`${logFile}.1`, 'utf8')).not.toContain('log file reopened');
      } finally {
        await kill9(gateway.child);
      }
    },
  );
});
