// Two PMTP/1 nodes in one process for the benchmark: each with its own domain, key, Redis prefix,
// spool dir and plain-HTTP loopback listener, pointing at each other through the static directory.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { parseConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { createLogger } from '../src/log.js';
import type { LocalDelivery } from '../src/mail/pulled-delivery.js';
import { generateDomainKey } from '../src/native/protocol/domain-keys.js';
import {
  type PmtpService,
  type PmtpWorkers,
  startPmtpService,
  startPmtpWorkers,
} from '../src/native/service/pmtp-service.js';
import { openAcceptStack } from '../src/queue/accept-stack.js';
import type { RedisClient } from '../src/queue/redis-connection.js';
import { deleteKeys } from './bench-support.js';

export interface BenchNode {
  readonly domain: string;
  readonly config: Config;
  readonly service: PmtpService;
  /** the node's producer connection, for reading its stores in one pipeline */
  readonly redis: RedisClient;
  delivered: number;
  startWorkers(): void;
  close(): Promise<void>;
}

export async function startBenchNode(options: {
  dir: string;
  domain: string;
  port: number;
  peer: { domain: string; port: number };
  redisUrl?: string;
  prefix: string;
  noticeConcurrency: number;
}): Promise<BenchNode> {
  const key = generateDomainKey();
  await mkdir(options.dir, { recursive: true });
  const keyFile = path.join(options.dir, `${options.domain}.pmtp.key`);
  await writeFile(keyFile, key.privatePem, { mode: 0o600 });
  const raw = {
    log: { level: 'warn' },
    redis: { ...(options.redisUrl ? { url: options.redisUrl } : {}), prefix: options.prefix },
    spool: { dir: path.join(options.dir, options.domain) },
    // the peer is on loopback over plain http
    egress: { allow_hosts: ['127.0.0.1'] },
    pmtp: {
      domain: options.domain,
      key_file: keyFile,
      public_url: `http://127.0.0.1:${options.port}`,
      listen: { host: '127.0.0.1', port: options.port, plain_http: true },
      directory: { [options.peer.domain]: { endpoint: `http://127.0.0.1:${options.peer.port}` } },
      rate_limits: { peer_per_minute: 10_000_000, unauthenticated_per_minute: 10_000_000 },
    },
    domains: { mailbox: [options.domain], first_contact: { default: 'allow' } },
    queues: { notice: { concurrency: options.noticeConcurrency }, pull: { concurrency: 50 } },
  };
  const config = parseConfig(stringify(raw), '/virtual/bench.yaml');
  const log = createLogger({ log: { level: 'warn' } });
  const stack = await openAcceptStack(config, log);
  const { spool, queues, acceptor, producer } = stack;
  const resolver = {
    resolveTxt: async () => [],
    resolveMx: async () => [],
    resolve4: async () => [],
    resolve6: async () => [],
    resolve: async () => [],
  };
  const service = await startPmtpService(config, { spool, queues, acceptor, resolver, log, redis: producer });
  let workers: PmtpWorkers | undefined;
  const node: BenchNode = {
    domain: options.domain,
    config,
    service,
    redis: producer,
    delivered: 0,
    startWorkers: () => {
      workers ??= startPmtpWorkers(service.context, { localDelivery, redis: producer });
    },
    close: async () => {
      await workers?.close();
      await service.close();
      await stack.close();
      await deleteKeys(config.redis.url, options.prefix);
    },
  };
  const localDelivery: LocalDelivery = {
    deliver: async (request) => {
      node.delivered += request.recipients.length;
      return request.recipients.map((recipient) => ({ recipient, status: 'delivered' as const }));
    },
  };
  return node;
}
