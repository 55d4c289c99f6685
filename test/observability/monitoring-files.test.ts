// The shipped monitoring files (deploy/monitoring/) against a real gateway's /metrics: every
// metric an alert rule or a dashboard panel names is one the gateway exports, so a renamed series
// cannot leave an alert that never fires. Also reads the certificate-expiry and oldest-message series.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { type RunningGateway, startGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/log.js';
import { deleteKeys, redisUrl, testPrefix } from '../support/redis.js';
import { tempDir } from '../support/tmp.js';

const run = promisify(execFile);
const deploy = path.join(import.meta.dirname, '../../deploy/monitoring');

/** Metric names in a PromQL expression (ours all start with mailbridge_). */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\bmailbridge_[a-z0-9_]+/g)].map((m) => m[0]);
}

describe('monitoring files', () => {
  const prefix = testPrefix();
  let dir: string;
  let remove: () => Promise<void>;
  let gateway: RunningGateway;
  let exported: Set<string>;
  let scrape: string;

  beforeAll(async () => {
    ({ dir, remove } = await tempDir('monitoring'));
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '10',
      '-subj',
      '/CN=mx.monitoring.test',
      '-keyout',
      path.join(dir, 'key.pem'),
      '-out',
      path.join(dir, 'cert.pem'),
    ]);
    const file = path.join(dir, 'mailbridge.yaml');
    await writeFile(
      file,
      stringify({
        redis: { url: redisUrl, prefix },
        spool: { dir: path.join(dir, 'spool') },
        smtp: { listeners: [{ role: 'mx', host: '127.0.0.1', port: 0, tls: { key: 'key.pem', cert: 'cert.pem' } }] },
        metrics: { host: '127.0.0.1', port: 0 },
        log: { level: 'silent' },
      }),
    );
    const config = await loadConfig(file);
    gateway = await startGateway(config, createLogger(config));
    const address = gateway.listening.find((l) => l.service === 'metrics')!.address;
    scrape = await (await fetch(`http://${address}/metrics`)).text();
    exported = new Set(
      [...scrape.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap(([, name, type]) =>
        type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name!],
      ),
    );
  }, 60_000);
  afterAll(async () => {
    await gateway?.close();
    await deleteKeys(prefix);
    await remove();
  });

  it('every alert rule names exported metrics and carries a severity and a summary', async () => {
    const rules = (
      parse(await readFile(path.join(deploy, 'prometheus-alerts.yml'), 'utf8')) as {
        groups: {
          rules: { alert: string; expr: string; labels: { severity: string }; annotations: { summary: string } }[];
        }[];
      }
    ).groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'MailbridgeRedisDown',
        'MailbridgeOldMessage',
        'MailbridgeDeferredGrowing',
        'MailbridgeCertificateExpiring',
        'MailbridgePmtpPullFailures',
      ]),
    );
    for (const rule of rules) {
      const names = metricsIn(rule.expr);
      expect(names.length, rule.alert).toBeGreaterThan(0);
      for (const name of names) expect(exported, `${rule.alert}: ${name}`).toContain(name);
      expect(['warning', 'critical'], rule.alert).toContain(rule.labels.severity);
      expect(rule.annotations.summary, rule.alert).toBeTruthy();
    }
  });

  it('every dashboard panel queries exported metrics', async () => {
    const dashboard = JSON.parse(await readFile(path.join(deploy, 'grafana-dashboard.json'), 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    expect(dashboard.panels.length).toBeGreaterThan(8);
    for (const panel of dashboard.panels)
      for (const { expr } of panel.targets)
        for (const name of metricsIn(expr)) expect(exported, `${panel.title}: ${name}`).toContain(name);
  });

  it('exports Redis up, the certificate expiry and the oldest message age', () => {
    expect(scrape).toMatch(/^mailbridge_redis_up 1$/m);
    const expiry = Number(
      /^mailbridge_tls_certificate_expiry_timestamp_seconds\{listener="smtp mx 0"\} (\d+)$/m.exec(scrape)?.[1],
    );
    // openssl -days 10: expires 10 days from now, give or take the test's own run time
    expect(Math.abs(expiry - (Date.now() / 1000 + 10 * 86_400))).toBeLessThan(600);
    expect(scrape).toMatch(/^mailbridge_spool_oldest_message_seconds 0$/m);
  });
});
