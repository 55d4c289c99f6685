// docker-compose.yml checked against what it runs: the config it mounts (environment variables the
// loader reads, ports it listens on, the volumes its paths need, the files the init step writes),
// healthchecks and start order, metrics kept on the host, Postfix and Dovecot built with their
// packages. No Docker engine runs here; where one does, `docker compose config` validates the file.
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../src/config/load.js';
import { envOverrides } from '../src/config/schema.js';

const root = path.join(import.meta.dirname, '..');

interface Service {
  build?: string;
  image?: string;
  user?: string;
  entrypoint?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  command?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}

describe('docker-compose.yml', async () => {
  const compose = parse(await readFile(path.join(root, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, Service>;
    volumes: Record<string, unknown>;
  };
  const service = compose.services.mailbridge!;
  const env = service.environment ?? {};
  const configMount = service.volumes!.find((v) => v.endsWith(':/etc/mailbridge/mailbridge.yaml:ro'))!;
  const configFile = path.join(root, configMount.split(':')[0]!);
  const config = parseConfig(await readFile(configFile, 'utf8'), configFile, env);
  const mountPoint = (s: Service, target: string) => s.volumes?.find((v) => v.split(':')[1] === target);
  const dockerfile = (dir: string) => readFile(path.join(root, dir, 'Dockerfile'), 'utf8');

  it('sets only environment variables the config loader knows', () => {
    expect(Object.keys(env).length).toBeGreaterThan(0);
    for (const name of Object.keys(env)) expect(Object.keys(envOverrides), name).toContain(name);
  });

  it('publishes exactly the ports the mounted config listens on, the metrics port on the host loopback only', () => {
    const published = (service.ports ?? []).map((p) => Number(p.split(':').at(-1)));
    const configured = [...config.smtp.listeners.map((l) => l.port), config.pmtp.listen.port, config.metrics.port];
    expect(published.sort()).toEqual(configured.sort());
    expect(service.ports).toContain(`127.0.0.1:${config.metrics.port}:${config.metrics.port}`);
  });

  it('runs Redis with AOF and noeviction, as BullMQ needs', () => {
    const command = compose.services.redis!.command!.join(' ');
    expect(command).toContain('--appendonly yes');
    expect(command).toContain('--maxmemory-policy noeviction');
  });

  it('gives every path the gateway writes a volume: spool, Maildir, keys', () => {
    expect(config.spool.dir).toBe(env.MAILBRIDGE_SPOOL_DIR);
    for (const dir of [config.spool.dir, config.mailbox.maildir_root!, '/etc/mailbridge/keys']) {
      const mount = mountPoint(service, dir);
      expect(mount, dir).toBeDefined();
      expect(Object.keys(compose.volumes), dir).toContain(mount!.split(':')[0]);
    }
    expect(config.pmtp.public_url).toMatch(/^https:\/\//);
  });

  it('the init step writes every key and certificate the config names, for the domain it is given', async () => {
    const init = compose.services.init!;
    expect(init.user).toBe('root');
    const script = await readFile(path.join(root, 'deploy/docker/init.sh'), 'utf8');
    expect(await dockerfile('.')).toContain('COPY deploy/docker/init.sh /usr/local/bin/mailbridge-init');
    expect(init.entrypoint).toEqual(['/usr/local/bin/mailbridge-init']);
    const domain = init.environment!.MAILBRIDGE_DOMAIN!;
    expect(domain).toBe(config.pmtp.domain);
    expect(init.environment!.MAILBRIDGE_PUBLIC_URL).toBe(config.pmtp.public_url);
    // `keys generate` writes DOMAIN.pmtp.key and DOMAIN.dkim.key; the script writes tls.key and tls.crt
    const written = (file: string) => {
      const name = path.basename(file);
      return name === `${domain}.pmtp.key` || name === `${domain}.dkim.key` || script.includes(`$keys/${name}`);
    };
    const named = [
      config.pmtp.key_file!,
      config.dkim!.key_file,
      ...config.smtp.listeners.flatMap((l) => (l.tls ? [l.tls.key, l.tls.cert] : [])),
      ...(config.pmtp.listen.tls ? [config.pmtp.listen.tls.key, config.pmtp.listen.tls.cert] : []),
    ];
    for (const file of named) {
      expect(path.dirname(file), file).toBe('/etc/mailbridge/keys');
      expect(written(file), file).toBe(true);
    }
    expect(mountPoint(init, '/etc/mailbridge/keys')?.split(':')[0]).toBe(
      mountPoint(service, '/etc/mailbridge/keys')?.split(':')[0],
    );
    expect(script).toContain('chown -R mailbridge:mailbridge');
    expect(spawnSync('sh', ['-n', path.join(root, 'deploy/docker/init.sh')]).status).toBe(0);
  });

  it('starts in order, each dependency healthy or done, and checks the gateway by /readyz', async () => {
    expect(service.depends_on).toEqual({
      init: { condition: 'service_completed_successfully' },
      redis: { condition: 'service_healthy' },
      postfix: { condition: 'service_healthy' },
      dovecot: { condition: 'service_healthy' },
    });
    expect(service.healthcheck!.test.join(' ')).toContain(`127.0.0.1:${config.metrics.port}/readyz`);
    expect(compose.services.redis!.healthcheck).toBeDefined();
    for (const built of ['postfix', 'dovecot']) {
      const file = await dockerfile(compose.services[built]!.build!);
      expect(file, built).toMatch(/^HEALTHCHECK /m);
      // packages at build time; nothing installs at start
      expect(
        file.split('\n').find((l) => l.startsWith('CMD')),
        built,
      ).not.toMatch(/apt-get/);
      expect(file, built).toMatch(/apt-get install -y --no-install-recommends (postfix|dovecot-core dovecot-lmtpd)/);
    }
  });

  it('routes the Dovecot domain over LMTP to the dovecot service, whose config Dovecot itself accepts', () => {
    const hop = Object.values(config.domains.postfix).find((h) => h.host === 'dovecot');
    expect(hop).toMatchObject({ port: 24, protocol: 'lmtp' });
    const doveconf = spawnSync('doveconf', ['-c', path.join(root, 'deploy/dovecot/dovecot.conf'), '-n']);
    if (doveconf.error) return; // no Dovecot on this machine: the structure above is what is checked
    expect(doveconf.status, doveconf.stderr.toString()).toBe(0);
  });

  it('keeps the build context small', async () => {
    const ignore = (await readFile(path.join(root, '.dockerignore'), 'utf8')).split('\n');
    for (const entry of ['node_modules', '.git', 'dist']) expect(ignore).toContain(entry);
  });

  const docker = spawnSync('docker', ['info'], { timeout: 10_000 }).status === 0;
  it.skipIf(!docker)('is a valid compose file for docker compose (needs a Docker engine)', () => {
    const result = spawnSync('docker', ['compose', '-f', path.join(root, 'docker-compose.yml'), 'config', '-q']);
    expect(result.status, result.stderr.toString()).toBe(0);
  });
});
