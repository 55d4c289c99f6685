// Composition entry points for src/gateway.ts: `startPmtpService` (keys, context, listener,
// outbox) and `startPmtpWorkers` (the notice and pull processors with their own blocking Redis
// connection, and the recipient-side sweeper). Config is passed down; nothing here reads the environment.

import type { Config } from '../../config/schema.js';
import type { LocalDelivery } from '../../mail/pulled-delivery.js';
import { createMailWorker } from '../../queue/queues.js';
import type { RedisClient } from '../../queue/redis-connection.js';
import { createRedisConnection } from '../../queue/redis-connection.js';
import { NoticeBatcher } from '../client/notice-batcher.js';
import { type LocalKeyRing, loadKeyRing } from '../keys/local-keys.js';
import { loadPowSecret } from '../keys/pow-secret.js';
import { PmtpOutbox } from '../outbox/pmtp-outbox.js';
import type { PmtpContext } from '../pmtp-context.js';
import { startPmtpListener } from '../server/listen.js';
import { allowlistCorrespondents } from '../state/contacts.js';
import { CircuitBreaker } from '../workers/circuit-breaker.js';
import { InboundSweeper } from '../workers/inbound-sweeper.js';
import { createNoticeProcessor } from '../workers/notice-worker.js';
import { createPullProcessor } from '../workers/pull-worker.js';
import { buildPmtpContext, type PmtpContextDeps } from './pmtp-context-builder.js';

export interface PmtpService {
  /** Where the listener is bound, e.g. http://127.0.0.1:8443. */
  readonly url: string;
  /** Our public endpoint (pmtp.public_url, else the bound URL). */
  readonly endpoint: string;
  readonly outbox: PmtpOutbox;
  /** what the PMTP parts share; tests and the gateway read its stores */
  readonly context: PmtpContext;
  /** New TLS handshakes use this certificate; open connections keep theirs (SIGHUP). */
  updateSecureContext(material: { key: Buffer; cert: Buffer }): void;
  /** Call when a local user sends mail: its recipients skip first contact when they reply. */
  allowlistCorrespondents(localSender: string, recipients: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/** A pulled copy this young may still be waiting for its pull job to move its recipients on. */
const SWEEP_GRACE_MS = 60_000;

export interface PmtpWorkers {
  close(): Promise<void>;
}

export async function startPmtpService(
  config: Config,
  deps: Omit<PmtpContextDeps, 'powSecret'> & { keys?: LocalKeyRing },
): Promise<PmtpService> {
  const keys = deps.keys ?? (await loadKeyRing(config));
  let endpoint = config.pmtp.public_url ? new URL(config.pmtp.public_url).origin : '';
  const context = buildPmtpContext(config, keys, { ...deps, powSecret: await loadPowSecret(config) }, () => endpoint);
  const listener = await startPmtpListener(context);
  if (!endpoint) endpoint = listener.url;
  deps.log.info({ url: listener.url, endpoint, domain: keys.domain, keyId: keys.current.keyId }, 'pmtp listening');
  return {
    url: listener.url,
    endpoint,
    outbox: new PmtpOutbox(context),
    context,
    allowlistCorrespondents: (sender, recipients) => allowlistCorrespondents(context.contacts, sender, recipients),
    updateSecureContext: (material) => listener.updateSecureContext(material),
    close: () => listener.close(),
  };
}

export function startPmtpWorkers(
  context: PmtpContext,
  deps: { localDelivery: LocalDelivery; redis: RedisClient },
): PmtpWorkers {
  const { config } = context;
  const connection = createRedisConnection(config, 'worker');
  connection.on('error', (err) => context.log.warn({ err: err.message }, 'redis worker connection error'));
  const breaker = new CircuitBreaker(deps.redis, config.redis.prefix, context.queues, {
    failures: config.pmtp.breaker_failures,
    firstPauseMs: config.pmtp.breaker_first_pause_s * 1000,
    pauseMs: config.pmtp.breaker_pause_s * 1000,
  });
  const batcher = new NoticeBatcher(context.client, context.domain);
  const notice = createMailWorker(
    config,
    'notice',
    createNoticeProcessor({ rt: context, batcher, breaker }),
    connection,
  );
  const pull = createMailWorker(config, 'pull', createPullProcessor(context, deps.localDelivery), connection);
  for (const worker of [notice, pull]) {
    worker.on('failed', (job, err) =>
      context.log.warn({ queue: worker.name, jobId: job?.id, err: err.message }, 'pmtp job failed'),
    );
    worker.on('error', (err) => context.log.warn({ queue: worker.name, err: err.message }, 'pmtp worker error'));
  }
  // recipient side: expired undecided notices and pulled copies nobody needs, one gateway per interval
  const sweeper = new InboundSweeper(context, deps.redis, {
    intervalMs: config.pmtp.sweep_interval_s * 1000,
    graceMs: SWEEP_GRACE_MS,
    prefix: config.redis.prefix,
  });
  sweeper.start();
  return {
    close: async () => {
      await sweeper.close();
      // a solve under way would hold its notice job (and this close) until it ends: stop it first
      await context.powSolver.close();
      await Promise.all([notice.close(), pull.close()]);
      connection.disconnect();
    },
  };
}
