// No Docker engine runs here, so the compose file is checked against the config schema instead:
// every environment variable it sets is one the loader reads, every port it publishes is configured.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../src/config/load.js';
import { envOverrides } from '../src/config/schema.js';

const root = path.join(import.meta.dirname, '..');

describe('docker-compose.yml', async () => {
  const compose = parse(await readFile(path.join(root, 'docker-compose.yml'), 'utf8')) as {
    services: Record<
      string,
      { environment?: Record<string, string>; ports?: string[]; volumes?: string[]; command?: string[] }
    >;
  };
  const service = compose.services.mailbridge!;
  const env = service.environment ?? {};
  const configMount = service.volumes!.find((v) => v.endsWith(':/etc/mailbridge/mailbridge.yaml:ro'))!;
  const configFile = path.join(root, configMount.split(':')[0]!);
  const config = parseConfig(await readFile(configFile, 'utf8'), configFile, env);

  it('sets only environment variables the config loader knows', () => {
    expect(Object.keys(env).length).toBeGreaterThan(0);
    for (const name of Object.keys(env)) expect(Object.keys(envOverrides), name).toContain(name);
  });

  it('publishes exactly the ports the mounted config listens on', () => {
    const published = (service.ports ?? []).map((p) => Number(p.split(':').at(-1)));
    const configured = [...config.smtp.listeners.map((l) => l.port), config.pmtp.listen.port, config.metrics.port];
    expect(published.sort()).toEqual(configured.sort());
  });

  it('runs Redis with AOF and noeviction, as BullMQ needs', () => {
    const command = compose.services.redis!.command!.join(' ');
    expect(command).toContain('--appendonly yes');
    expect(command).toContain('--maxmemory-policy noeviction');
  });

  it('takes the spool folder from the environment', () => {
    expect(config.spool.dir).toBe(env.MAILBRIDGE_SPOOL_DIR);
  });
});
