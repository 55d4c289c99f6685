// Two real PMTP/1 servers on loopback for integration tests: each with its own domain, key,
// Redis prefix, spool dir and plain-HTTP listener on 127.0.0.1, pointing at each other through
// the static directory; workers run, local delivery is recorded in memory.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { Config } from '../../../src/config/schema.js';
import type { MailResolver } from '../../../src/dns/resolver.js';
import type { Logger } from '../../../src/log.js';
import type { DsnSink } from '../../../src/mail/dsn.js';
import type { LocalDelivery, LocalDeliveryRequest, LocalDeliveryResult } from '../../../src/mail/pulled-delivery.js';
import type { LocalKeyRing } from '../../../src/native/keys/local-keys.js';
import { type DomainKey, generateDomainKey } from '../../../src/native/protocol/domain-keys.js';
import { describePart, type Manifest } from '../../../src/native/protocol/message-format.js';
import {
  type PmtpService,
  type PmtpWorkers,
  startPmtpService,
  startPmtpWorkers,
} from '../../../src/native/service/pmtp-service.js';
import { openAcceptStack } from '../../../src/queue/accept-stack.js';
import { testConfig } from '../../support/config.js';
import { deleteKeys, redisUrl, testPrefix } from '../../support/redis.js';
import { freePort } from '../../support/smtp-sink.js';
import { staticResolver } from '../../support/static-resolver.js';
import { tempDir } from '../../support/tmp.js';

export interface Delivered {
  readonly request: LocalDeliveryRequest;
  readonly parts: Buffer[];
}

export interface PmtpNode {
  readonly domain: string;
  readonly key: DomainKey;
  readonly config: Config;
  readonly service: PmtpService;
  readonly endpoint: string;
  readonly delivered: Delivered[];
  readonly redis: Redis;
  /** Answer for local delivery; default every recipient delivered. */
  deliveryAnswer: (req: LocalDeliveryRequest) => LocalDeliveryResult[] | Promise<LocalDeliveryResult[]>;
  workers?: PmtpWorkers;
  startWorkers(): void;
  close(): Promise<void>;
}

export interface NodeOptions {
  readonly domain: string;
  readonly port: number;
  /** static directory entries (§8.5); `fingerprint` pins the key that must sign the key set */
  readonly peers: Record<string, { endpoint: string; fingerprint?: string }>;
  readonly pmtp?: Record<string, unknown>;
  readonly firstContact?: Record<string, unknown>;
  readonly key?: DomainKey;
  readonly workers?: boolean;
  readonly keyRing?: LocalKeyRing;
  /** DNS for discovery; default none */
  readonly resolver?: MailResolver;
  /** hosts the egress guard lets through; default loopback */
  readonly egressAllow?: readonly string[];
  /** Run on this folder and Redis prefix (a restart of an earlier node); close leaves them to the caller. */
  readonly state?: { readonly dir: string; readonly prefix: string };
  /** where DSNs for SMTP-born mail go (none without it) */
  readonly sendDsn?: DsnSink;
  /** queues.delay_warning_s */
  readonly delayWarningS?: number;
  /** the node's clock in ms (default Date.now) */
  readonly now?: () => number;
  /** where the node logs (default silent, or PMTP_TEST_LOG's level) */
  readonly log?: Logger;
  /** more domains on this node (domains.settings): each with its own PMTP key when `key` is given */
  readonly domains?: Record<string, { readonly key?: DomainKey; readonly settings?: Record<string, unknown> }>;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function startNode(options: NodeOptions): Promise<PmtpNode> {
  const { dir, remove } = options.state
    ? { dir: options.state.dir, remove: async () => {} }
    : await tempDir(`pmtp-${options.domain}`);
  const prefix = options.state?.prefix ?? testPrefix();
  const key = options.key ?? generateDomainKey();
  const keyFile = path.join(dir, 'pmtp.key');
  await writeFile(keyFile, key.privatePem, { mode: 0o600 });
  const settings: Record<string, Record<string, unknown>> = {};
  for (const [domain, extra] of Object.entries(options.domains ?? {})) {
    const file = path.join(dir, `${domain}.pmtp.key`);
    if (extra.key) await writeFile(file, extra.key.privatePem, { mode: 0o600 });
    settings[domain] = { ...(extra.key ? { pmtp: { key_file: file } } : {}), ...extra.settings };
  }
  const config = testConfig(
    {
      spool: { dir: path.join(dir, 'spool') },
      ...(options.egressAllow ? { egress: { allow_hosts: options.egressAllow } } : {}),
      pmtp: {
        domain: options.domain,
        key_file: keyFile,
        public_url: `http://127.0.0.1:${options.port}`,
        listen: { host: '127.0.0.1', port: options.port, plain_http: true },
        directory: options.peers,
        rate_limits: { peer_per_minute: 1_000_000, unauthenticated_per_minute: 1_000_000 },
        ...options.pmtp,
      },
      domains: {
        mailbox: [options.domain, ...Object.keys(settings)],
        first_contact: { default: 'allow', pow_bits: 8, ...options.firstContact },
        settings,
      },
      queues: {
        ...(options.delayWarningS !== undefined ? { delay_warning_s: options.delayWarningS } : {}),
        notice: { concurrency: 100, retry: { initial_delay_s: 1, max_delay_s: 2, lifetime_s: 60, jitter: 0.1 } },
        pull: { concurrency: 20, retry: { initial_delay_s: 1, max_delay_s: 2, lifetime_s: 60, jitter: 0.1 } },
      },
    },
    prefix,
  );
  const log = options.log ?? pino({ level: process.env.PMTP_TEST_LOG ?? 'silent' });
  const stack = await openAcceptStack(config, log);
  const { spool, queues, acceptor, producer } = stack;
  const service = await startPmtpService(config, {
    spool,
    queues,
    acceptor,
    resolver: options.resolver ?? staticResolver({}),
    log,
    redis: producer,
    ...(options.keyRing ? { keys: options.keyRing } : {}),
    ...(options.sendDsn ? { sendDsn: options.sendDsn } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const delivered: Delivered[] = [];
  const node: PmtpNode = {
    domain: options.domain,
    key,
    config,
    service,
    endpoint: service.endpoint,
    delivered,
    redis: new Redis(redisUrl),
    startWorkers: () => {
      node.workers ??= startPmtpWorkers(service.context, { localDelivery, redis: producer, others: service.others });
    },
    deliveryAnswer: (req) => req.recipients.map((recipient) => ({ recipient, status: 'delivered' })),
    close: async () => {
      await node.workers?.close();
      await service.close();
      await stack.close();
      node.redis.disconnect();
      if (!options.state) await deleteKeys(prefix);
      await remove();
    },
  };
  const localDelivery: LocalDelivery = {
    deliver: async (request) => {
      const parts = [];
      for (let i = 0; i < request.manifest.parts.length; i++) parts.push(await readAll(await request.openPart(i)));
      delivered.push({ request, parts });
      return node.deliveryAnswer(request);
    },
  };
  if (options.workers !== false) node.startWorkers();
  return node;
}

export async function startPair(
  options: { a?: Partial<NodeOptions>; b?: Partial<NodeOptions> } = {},
): Promise<{ a: PmtpNode; b: PmtpNode; close(): Promise<void> }> {
  const [pa, pb] = [await freePort(), await freePort()];
  const a = await startNode({
    domain: 'a.example',
    port: pa,
    peers: { 'b.example': { endpoint: `http://127.0.0.1:${pb}` } },
    ...options.a,
  });
  const b = await startNode({
    domain: 'b.example',
    port: pb,
    peers: { 'a.example': { endpoint: `http://127.0.0.1:${pa}` } },
    ...options.b,
  });
  return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
}

let counter = 0;
export function newMessageId(): string {
  return `m${Date.now().toString(36)}${(counter++).toString(36).padStart(6, '0')}xxxxxxxx`.slice(0, 22);
}

export function textMessage(
  from: string,
  to: string,
  text: string,
  id = newMessageId(),
  version = 1,
): { manifest: Manifest; body: Buffer } {
  const body = Buffer.from(text, 'utf8');
  const attachment = Buffer.from([0, 0xff, 0x0a, 0x0d, 0x2e, 0x0d, 0x0a, 0]);
  const manifest: Manifest = {
    v: 1,
    id,
    version,
    from,
    headers: [
      ['From', from],
      ['To', to],
      ['Subject', `hello ${version}`],
    ],
    parts: [
      describePart(body, { type: 'text/plain; charset=utf-8', role: 'body' }),
      describePart(attachment, { type: 'application/octet-stream', role: 'attachment' }),
    ],
    created: Math.floor(Date.now() / 1000),
  };
  return { manifest, body: Buffer.concat([body, attachment]) };
}

export async function until<T>(probe: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
