// SIGHUP changes a domain's own settings on a running gateway: its size limit applies at the next
// RCPT of a session opened before the reload, a domain given its own certificate gets it at the next
// TLS handshake (SNI, checked with openssl s_client), and these keys are not reported restart-only.

import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { type RunningGateway, startGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/log.js';
import { domainSettingsKey } from '../../src/observability/live-settings.js';
import { ConfigReloader, type ReloadOutcome } from '../../src/observability/reload.js';
import { RawSmtp } from '../inbound-smtp/raw-smtp.js';
import { testConfig } from '../support/config.js';
import { deleteKeys, redisUrl, testPrefix } from '../support/redis.js';
import { selfSigned } from '../support/self-signed.js';
import { hangUp } from '../support/sighup.js';
import { tempDir } from '../support/tmp.js';

const run = promisify(execFile);

describe('SIGHUP reloads domains.settings', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let gateway: RunningGateway;
  let stopListening: () => void;
  let port: number;
  const prefix = testPrefix();
  const outcomes: ReloadOutcome[] = [];
  let three: { key: string; cert: string };
  const file = (): string => path.join(dir, 'mailbridge.yaml');
  const writeConfig = (settings: Record<string, unknown>): Promise<void> =>
    writeFile(
      file(),
      stringify({
        hostname: 'mx.reload.test',
        spool: { dir: 'spool' },
        redis: { url: redisUrl, prefix },
        log: { level: 'warn', file: 'mailbridge.log' },
        mailbox: { maildir_root: 'mail' },
        dns: { zone_file: 'zone.db' },
        metrics: { host: '127.0.0.1', port: 0 },
        smtp: { listeners: [{ role: 'mx', host: '127.0.0.1', port: 0, tls: selfSigned(dir, 'mx.reload.test') }] },
        // three.test keeps its own certificate throughout
        domains: { mailbox: ['one.test', 'two.test'], settings: { ...settings, 'three.test': { tls: three } } },
      }),
    );

  /** The subject CN the listener presents after STARTTLS to a client asking for `servername`. */
  async function presented(servername: string): Promise<string> {
    const running = run(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${port}`, '-starttls', 'smtp', '-servername', servername],
      { timeout: 15_000 },
    );
    running.child.stdin?.end();
    const { stdout } = await running.catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
    return /subject=\s*CN\s*=\s*([^\s,/]+)/.exec(stdout)?.[1] ?? `none in: ${stdout.slice(0, 200)}`;
  }

  beforeAll(async () => {
    ({ dir, remove } = await tempDir('domain-settings-reload'));
    await writeFile(path.join(dir, 'zone.db'), '$ORIGIN test.\n$TTL 300\n');
    three = selfSigned(dir, 'mail.three.test');
    await writeConfig({ 'one.test': { max_message_bytes: 1000 } });
    const config = await loadConfig(file());
    const log = createLogger(config);
    gateway = await startGateway(config, log);
    const mx = gateway.listening.find((l) => l.service === 'smtp mx')!;
    port = Number(mx.address.slice(mx.address.lastIndexOf(':') + 1));
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

  it("applies a domain's size limit, first-contact rules and certificate without a restart", async () => {
    expect(await presented('mail.two.test')).toBe('mx.reload.test');
    const session = await RawSmtp.connect(port);
    expect(await session.command('EHLO client.test')).toMatch(/^250/);
    expect(await session.command('MAIL FROM:<sender@outside.test> SIZE=3000')).toMatch(/^250/);
    expect(await session.command('RCPT TO:<bob@one.test>')).toMatch(/^552 5\.3\.4/);
    expect(await session.command('RCPT TO:<bob@two.test>')).toMatch(/^250/);

    await writeConfig({
      'one.test': { max_message_bytes: 5000, first_contact: { default: 'deny' } },
      'two.test': { max_message_bytes: 2000, tls: selfSigned(dir, 'mail.two.test') },
    });
    const outcome = await hangUp(outcomes);
    expect(outcome).toMatchObject({ ok: true, failed: [], needsRestart: [] });
    expect(outcome.applied).toEqual(expect.arrayContaining(['policy', 'domain certificates']));

    // the session opened before the reload: the new limits at its next RCPT
    expect(await session.command('RCPT TO:<carol@one.test>')).toMatch(/^250/);
    expect(await session.command('RCPT TO:<carol@two.test>')).toMatch(/^552 5\.3\.4 .*two\.test takes at most 2000/);
    session.end();
    expect(await presented('mail.two.test')).toBe('mail.two.test');
    expect(await presented('elsewhere.test')).toBe('mx.reload.test');
  });

  it("exports each domain certificate's expiry", async () => {
    const address = gateway.listening.find((l) => l.service === 'metrics')!.address;
    const scrape = await (await fetch(`http://${address}/metrics`)).text();
    expect(scrape).toMatch(
      /^mailbridge_tls_certificate_expiry_timestamp_seconds\{listener="domain three\.test"\} \d+$/m,
    );
  });

  it('keeps the certificates it had when a new one does not load, and says so', async () => {
    await writeConfig({
      'two.test': { tls: { key: path.join(dir, 'mx.reload.test.key'), cert: path.join(dir, 'mail.two.test.crt') } },
    });
    const outcome = await hangUp(outcomes);
    expect(outcome.failed.map((f) => f.name)).toEqual(['domain certificates']);
    expect(await presented('mail.two.test')).toBe('mail.two.test');
    expect(await presented('mail.three.test')).toBe('mail.three.test');
  });
});

describe('domainSettingsKey', () => {
  const config = testConfig({
    spool: { dir: '/nonexistent' },
    domains: { settings: { 'tls.example': {}, 'a.tls.example': {} } },
  });
  it("tells a domain's own field from a domain name holding the field's name", () => {
    const covered = domainSettingsKey(['tls']);
    expect(covered('domains.settings.tls.example.tls.cert', config)).toBe(true);
    expect(covered('domains.settings.a.tls.example.tls', config)).toBe(true);
    expect(covered('domains.settings.a.tls.example.pmtp.key_file', config)).toBe(false);
    expect(covered('domains.settings.tls.example.dkim.selector', config)).toBe(false);
    expect(covered('domains.settings.other.example.tls.cert', config)).toBe(false);
  });
});
