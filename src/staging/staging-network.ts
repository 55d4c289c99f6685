// `mailbridge staging`: a whole mail network on loopback. One gateway per native domain (mx,
// submission, PMTP endpoint), one plain SMTP mailstore per legacy domain, one offline DNS zone.

import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { type Environment, loadConfig } from '../config/load.js';
import { mergeZones, parseZoneFile } from '../dns/zone-file.js';
import { formatPublishedRecord, txtRecord } from '../dns/zone-record.js';
import { type RunningGateway, startGateway } from '../gateway.js';
import { createLogger } from '../log.js';
import { type LegacyMailstore, startLegacyMailstore } from './legacy-mailstore.js';
import { type ProvisionedRedis, provisionRedis } from './redis-provision.js';
import { loadOrCreatePlan, type StagingPlan, stagingHost } from './staging-plan.js';

export interface StagingOptions {
  readonly dir: string;
  readonly domains: readonly string[];
  readonly legacy: readonly string[];
  readonly zoneFile?: string;
  readonly redis?: string;
  /** the legacy domains' stores run in another process (e.g. a test that stops one); only their ports are planned here */
  readonly externalLegacy?: boolean;
  /** seconds between retries of deferred mail (and a PMTP peer's pause), instead of Postfix's 300 s doubling schedule */
  readonly retrySeconds?: number;
  readonly env: Environment;
  readonly logLevel?: string;
}

export interface ReadyLine {
  readonly ready: true;
  readonly dir: string;
  readonly domains: Record<string, { mx: string; submission: string; pmtp: string; user: string; password: string }>;
  readonly legacy: Record<string, { smtp: string }>;
}

export interface StagingNetwork {
  readonly ready: ReadyLine;
  close(): Promise<void>;
}

export async function startStaging(options: StagingOptions): Promise<StagingNetwork> {
  const dir = path.resolve(options.dir);
  const plan = await loadOrCreatePlan(dir, options.domains, options.legacy);
  const zonePath = path.join(dir, 'zone.db');
  await writeFile(zonePath, await stagingZone(plan, options.zoneFile));

  // an explicit --redis is the only choice: falling back to another Redis would hide the queued jobs
  const redis: ProvisionedRedis = await provisionRedis(
    dir,
    options.redis ? [options.redis] : [options.env.REDIS_URL, 'redis://127.0.0.1:6379'],
    !options.redis,
  );
  const stores: LegacyMailstore[] = [];
  const gateways: RunningGateway[] = [];
  const close = async (): Promise<void> => {
    for (const g of gateways.splice(0)) await g.close();
    for (const s of stores.splice(0)) await s.close();
    await redis.stop();
  };
  try {
    for (const [domain, { smtp }] of Object.entries(options.externalLegacy ? {} : plan.legacy)) {
      stores.push(await startLegacyMailstore({ domain, root: dir, host: stagingHost, port: smtp }));
    }
    for (const domain of Object.keys(plan.native)) {
      const file = await writeDomainConfig(dir, domain, plan, zonePath, redis.url, options);
      // the staging Redis URL is in the file; the caller's REDIS_URL must not override it
      const config = await loadConfig(file, {});
      gateways.push(await startGateway(config, createLogger(config)));
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { ready: readyLine(dir, plan), close };
}

function readyLine(dir: string, plan: StagingPlan): ReadyLine {
  const at = (port: number) => `${stagingHost}:${port}`;
  return {
    ready: true,
    dir,
    domains: Object.fromEntries(
      Object.entries(plan.native).map(([domain, p]) => [
        domain,
        {
          mx: at(p.mx),
          submission: at(p.submission),
          pmtp: `http://${at(p.pmtp)}`,
          user: `postmaster@${domain}`,
          password: p.password,
        },
      ]),
    ),
    legacy: Object.fromEntries(Object.entries(plan.legacy).map(([domain, p]) => [domain, { smtp: at(p.smtp) }])),
  };
}

/** Every domain's MX, SPF, DMARC, DKIM and PMTP discovery records, merged over the user's zone. */
async function stagingZone(plan: StagingPlan, userZone: string | undefined): Promise<string> {
  const lines: string[] = ['; written by mailbridge staging; edit the --zone file instead', '$TTL 300'];
  const common = (domain: string) => [
    `${domain}.\t300\tIN\tMX\t10 mx.${domain}.`,
    `mx.${domain}.\t300\tIN\tA\t${stagingHost}`,
    formatPublishedRecord(txtRecord(domain, `v=spf1 ip4:${stagingHost} -all`, 300)),
    formatPublishedRecord(txtRecord(`_dmarc.${domain}`, 'v=DMARC1; p=reject', 300)),
  ];
  for (const [domain, p] of Object.entries(plan.native)) {
    lines.push(
      ...common(domain),
      p.dkimRecord,
      formatPublishedRecord(
        txtRecord(`_pmtp.${domain}`, `v=PMTP1; e=http://${stagingHost}:${p.pmtp}; fp=${p.pmtpKeyId}`, 300),
      ),
    );
  }
  for (const domain of Object.keys(plan.legacy)) lines.push(...common(domain));
  const generated = `${lines.join('\n')}\n`;
  if (!userZone) return generated;
  // the user's records win: they describe the extra world the staging network talks to
  const merged = mergeZones(
    parseZoneFile(generated, { file: 'staging' }),
    parseZoneFile(await readFile(userZone, 'utf8'), { file: userZone }),
  );
  return `${merged.map(recordLine).join('\n')}\n`;
}

function recordLine(r: ReturnType<typeof parseZoneFile>[number]): string {
  if (r.type === 'TXT') return formatPublishedRecord(txtRecord(r.name, r.value.join(''), r.ttl));
  if (r.type === 'MX')
    return `${r.name}.\t${r.ttl}\tIN\tMX\t${r.value.priority} ${r.value.exchange || '.'}${r.value.exchange ? '.' : ''}`;
  return `${r.name}.\t${r.ttl}\tIN\t${r.type}\t${r.value}${r.type === 'CNAME' || r.type === 'PTR' ? '.' : ''}`;
}

async function writeDomainConfig(
  dir: string,
  domain: string,
  plan: StagingPlan,
  zonePath: string,
  redisUrl: string,
  options: StagingOptions,
): Promise<string> {
  const p = plan.native[domain]!;
  const others = Object.entries(plan.native).filter(([d]) => d !== domain);
  const config = {
    hostname: `mx.${domain}`,
    log: { level: options.logLevel ?? 'info', file: path.join(dir, domain, 'mailbridge.log') },
    // one Redis may serve several staging folders (and test runs): the folder keeps them apart
    redis: { url: redisUrl, prefix: `{mb-${createHash('sha256').update(dir).digest('hex').slice(0, 8)}-${domain}}` },
    spool: { dir: path.join(dir, domain, 'spool') },
    // staging restarts are often a kill -9: take over the dead process's jobs within seconds
    queues: {
      stalled_job_timeout_s: 10,
      ...(options.retrySeconds
        ? { retry: { initial_delay_s: options.retrySeconds, max_delay_s: options.retrySeconds } }
        : {}),
    },
    smtp: {
      listeners: [
        { role: 'mx', host: stagingHost, port: p.mx },
        { role: 'submission', host: stagingHost, port: p.submission, allow_insecure_auth: true },
      ],
      accounts: [{ user: `postmaster@${domain}`, password_hash: p.passwordHash }],
    },
    domains: { mailbox: [domain] },
    mailbox: { maildir_root: dir },
    pmtp: {
      domain,
      key_file: p.pmtpKeyFile,
      public_url: `http://${stagingHost}:${p.pmtp}`,
      listen: { host: stagingHost, port: p.pmtp, plain_http: true },
      directory: Object.fromEntries(others.map(([d, o]) => [d, { endpoint: `http://${stagingHost}:${o.pmtp}` }])),
      // staging restarts its peers together: one found down (not listening yet) is tried again in seconds
      breaker_first_pause_s: 5,
      // a peer found down is paused at most this long: with --retry, as long as any other retry
      ...(options.retrySeconds ? { breaker_pause_s: options.retrySeconds } : {}),
    },
    dkim: { domain, selector: 'staging', key_file: p.dkimKeyFile },
    outbound: { port_map: Object.fromEntries(Object.entries(plan.legacy).map(([d, l]) => [`mx.${d}`, l.smtp])) },
    dns: { zone_file: zonePath },
    // every staging peer listens on loopback over plain http, which the egress guard refuses by default
    egress: { allow_hosts: [stagingHost] },
    metrics: { host: stagingHost, port: p.metrics },
  };
  const file = path.join(dir, domain, 'mailbridge.yaml');
  await writeFile(file, `# written by mailbridge staging on every start\n${stringify(config)}`, { mode: 0o600 });
  return file;
}
