// Starts real SMTP listeners in the test process: a temp spool, a real Redis (own prefix), an
// offline zone, ports chosen by the OS. Tests count spool entries and jobs to see what was accepted.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { type Logger, pino } from 'pino';
import type { Config } from '../../src/config/schema.js';
import { parseZoneFile } from '../../src/dns/zone-file.js';
import { zoneResolver } from '../../src/dns/zone-resolver.js';
import { type SmtpListeners, startSmtpListeners } from '../../src/inbound-smtp/listeners.js';
import type { SmtpRecord } from '../../src/mail/spool-records.js';
import { MessageAcceptor } from '../../src/queue/accept.js';
import { MailQueues } from '../../src/queue/queues.js';
import { createRedisConnection, waitReady } from '../../src/queue/redis-connection.js';
import { isQueueId } from '../../src/spool/queue-id.js';
import { Spool } from '../../src/spool/spool.js';
import { testConfig } from '../support/config.js';
import { deleteKeys, testPrefix } from '../support/redis.js';
import { tempDir } from '../support/tmp.js';

export interface HarnessOptions {
  readonly listeners: readonly Record<string, unknown>[];
  readonly zone?: string;
  readonly redisUrl?: string;
  readonly config?: Record<string, unknown>;
  /** where the listeners log; silent by default */
  readonly log?: Logger;
}

export interface Harness {
  readonly config: Config;
  readonly spool: Spool;
  readonly queues: MailQueues;
  readonly connection: ReturnType<typeof createRedisConnection>;
  readonly smtp: SmtpListeners;
  port(role: string, index?: number): number;
  entries(): Promise<string[]>;
  meta(queueId: string): Promise<SmtpRecord>;
  close(): Promise<void>;
}

export const defaultDomains = {
  mailbox: ['native.test'],
  postfix: { 'corp.test': { host: '127.0.0.1', port: 2525 } },
  recipients: { 'corp.test': ['alice', 'bob'] },
};

export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const { dir, remove } = await tempDir('smtp-in');
  const prefix = testPrefix();
  const config = testConfig(
    {
      hostname: 'mx.gw.test',
      domains: defaultDomains,
      ...options.config,
      spool: { dir: path.join(dir, 'spool'), ...(options.config?.spool as object) },
      ...(options.redisUrl ? { redis: { url: options.redisUrl, prefix } } : {}),
      smtp: {
        relay_clients: ['127.0.0.1'],
        ...(options.config?.smtp as object),
        listeners: options.listeners.map((l) => ({ host: '127.0.0.1', port: 0, ...l })),
      },
    },
    prefix,
  );
  const spool = new Spool(config.spool.dir);
  await spool.init();
  const connection = createRedisConnection(config, 'producer');
  connection.on('error', () => undefined);
  await waitReady(connection);
  const queues = new MailQueues(config, connection);
  const log = options.log ?? pino({ level: 'silent' });
  const acceptor = new MessageAcceptor(spool, queues, log);
  const resolver = zoneResolver(parseZoneFile(options.zone ?? '', { origin: '.' }));
  const smtp = await startSmtpListeners(config, { acceptor, spool, resolver, log });
  return {
    config,
    spool,
    queues,
    connection,
    smtp,
    port(role, index = 0) {
      const found = smtp.addresses.filter((a) => a.role === role)[index];
      if (!found) throw new Error(`no ${role} listener`);
      return found.port;
    },
    async entries() {
      return (await readdir(path.join(config.spool.dir, 'entries'))).filter(isQueueId).sort();
    },
    async meta(queueId) {
      const { meta } = await spool.read(queueId);
      if (meta.kind !== 'smtp') throw new Error(`${queueId} holds ${meta.kind} mail, not SMTP-born`);
      return meta;
    },
    async close() {
      await smtp.close();
      await queues.close();
      connection.disconnect();
      await deleteKeys(prefix);
      await remove();
    },
  };
}

/** A minimal CRLF message; `extra` headers go first. */
export function message(from: string, to: string, body = 'Hello.', extra = ''): string {
  return `${extra}From: <${from}>\r\nTo: <${to}>\r\nSubject: test\r\nMessage-ID: <${Math.random().toString(36).slice(2)}@client.test>\r\n\r\n${body}\r\n`;
}
