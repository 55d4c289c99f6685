// SIGHUP changes policy on a running gateway: a recipient added to `domains.recipients` is accepted
// at the next RCPT of a session that was open before the reload, a removed one is refused, and the
// first-contact rules are reported applied live (not as restart-only keys).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { type RunningGateway, startGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/log.js';
import { ConfigReloader, type ReloadOutcome } from '../../src/observability/reload.js';
import { RawSmtp } from '../inbound-smtp/raw-smtp.js';
import { deleteKeys, redisUrl, testPrefix } from '../support/redis.js';
import { hangUp } from '../support/sighup.js';
import { tempDir } from '../support/tmp.js';

describe('SIGHUP reloads policy', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let gateway: RunningGateway;
  let reloader: ConfigReloader;
  let stopListening: () => void;
  let port: number;
  const prefix = testPrefix();
  const outcomes: ReloadOutcome[] = [];
  const file = (): string => path.join(dir, 'mailbridge.yaml');
  const writeConfig = (
    users: string[],
    firstContact: Record<string, unknown>,
    mailbox = ['reload.test'],
  ): Promise<void> =>
    writeFile(
      file(),
      stringify({
        hostname: 'mx.reload.test',
        spool: { dir: 'spool' },
        redis: { url: redisUrl, prefix },
        log: { level: 'warn', file: 'mailbridge.log' },
        mailbox: { maildir_root: 'mail' },
        dns: { zone_file: 'zone.db' },
        smtp: { listeners: [{ role: 'mx', host: '127.0.0.1', port: 0 }] },
        domains: { mailbox, recipients: { 'reload.test': users }, first_contact: firstContact },
      }),
    );

  beforeAll(async () => {
    ({ dir, remove } = await tempDir('policy-reload'));
    await writeFile(path.join(dir, 'zone.db'), '$ORIGIN test.\n$TTL 300\n');
    await writeConfig(['alice'], { default: 'challenge' });
    const config = await loadConfig(file());
    const log = createLogger(config);
    gateway = await startGateway(config, log);
    const mx = gateway.listening.find((l) => l.service === 'smtp mx')!;
    port = Number(mx.address.slice(mx.address.lastIndexOf(':') + 1));
    reloader = new ConfigReloader({
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

  it('changes the recipient list for the next RCPT, on a session opened before the reload', async () => {
    const session = await RawSmtp.connect(port);
    expect(await session.command('EHLO client.example')).toMatch(/^250/);
    expect(await session.command('MAIL FROM:<>')).toMatch(/^250/);
    expect(await session.command('RCPT TO:<alice@reload.test>')).toMatch(/^250/);
    expect(await session.command('RCPT TO:<bob@reload.test>')).toMatch(/^550 5\.1\.1/);

    await writeConfig(['bob'], { default: 'deny', allow: ['friend.example'] });
    const outcome = await hangUp(outcomes);
    expect(outcome).toMatchObject({ ok: true, failed: [], needsRestart: [] });
    expect(outcome.applied).toContain('policy');

    expect(await session.command('RCPT TO:<bob@reload.test>')).toMatch(/^250/);
    expect(await session.command('RCPT TO:<Alice@reload.test>')).toMatch(/^550 5\.1\.1/);
    expect(await session.command('RCPT TO:<postmaster@reload.test>')).toMatch(/^250/);
    session.end();
  });

  it('names other changed domain keys as needing a restart and still applies the policy', async () => {
    const session = await RawSmtp.connect(port);
    await session.command('EHLO client.example');
    await session.command('MAIL FROM:<>');
    await writeConfig(['carol'], { default: 'deny', allow: ['friend.example'] }, ['reload.test', 'other.test']);
    const outcome = await hangUp(outcomes);
    expect(outcome.needsRestart).toEqual(['domains.mailbox.1']);
    expect(await session.command('RCPT TO:<carol@reload.test>')).toMatch(/^250/);
    expect(await session.command('RCPT TO:<bob@reload.test>')).toMatch(/^550 5\.1\.1/);
    session.end();
  });
});
