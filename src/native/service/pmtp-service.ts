// Composition entry points for src/gateway.ts: `startPmtpService` (keys, context, listener,
// outbox) and `startPmtpWorkers` (the notice and pull processors with their own blocking Redis
// connection, and the recipient-side sweeper). Config is passed down; nothing here reads the environment.
// Each added domain (domains.settings.<d>.pmtp) is a view of the one context with its own keys and
// endpoint: answered on the same listener, originating its own authors' mail, running its own jobs.

import type { Config } from '../../config/schema.js';
import type { LocalDelivery } from '../../mail/pulled-delivery.js';
import type { DomainCertificates } from '../../net/domain-certificates.js';
import { createMailWorker } from '../../queue/queues.js';
import type { RedisClient } from '../../queue/redis-connection.js';
import { createRedisConnection } from '../../queue/redis-connection.js';
import { AckBatcher } from '../client/ack-batcher.js';
import { NoticeBatcher } from '../client/notice-batcher.js';
import { loadDomainIdentities } from '../keys/domain-identities.js';
import { type LocalKeyRing, loadKeyRing } from '../keys/local-keys.js';
import { loadNodeSecret } from '../keys/node-secret.js';
import type { OwnDomain } from '../keys/peer-directory.js';
import { loadPowSecret } from '../keys/pow-secret.js';
import { PmtpOutbox } from '../outbox/pmtp-outbox.js';
import type { PmtpContext } from '../pmtp-context.js';
import { startPmtpListener } from '../server/listen.js';
import { allowlistCorrespondents } from '../state/contacts.js';
import { CircuitBreaker } from '../workers/circuit-breaker.js';
import { InboundSweeper } from '../workers/inbound-sweeper.js';
import { createNoticeProcessor } from '../workers/notice-worker.js';
import { createPullProcessor } from '../workers/pull-worker.js';
import { noticeByOrigin, pullByRecipientDomain } from './domain-workers.js';
import { buildPmtpContext, domainContext, type PmtpContextDeps } from './pmtp-context-builder.js';

export interface PmtpService {
  /** Where the listener is bound, e.g. http://127.0.0.1:8443. */
  readonly url: string;
  /** Our public endpoint (pmtp.public_url, else the bound URL). */
  readonly endpoint: string;
  readonly outbox: PmtpOutbox;
  /** what the PMTP parts share; tests and the gateway read its stores */
  readonly context: PmtpContext;
  /** the added domains' views of it (domains.settings.<d>.pmtp), by domain */
  readonly others: ReadonlyMap<string, PmtpContext>;
  /** New TLS handshakes use this certificate; open connections keep theirs (SIGHUP). */
  updateSecureContext(material: { key: Buffer; cert: Buffer }): void;
  /** Call when a local user sends mail: its recipients skip first contact when they reply. */
  allowlistCorrespondents(localSender: string, recipients: readonly string[]): Promise<void>;
  close(): Promise<void>;
}

/** A pulled copy this young may still be waiting for its pull job to move its recipients on. */
const SWEEP_GRACE_MS = 60_000;

/** how often the key ring file is checked for changes (a stat; read only when it changed) */
const RING_RELOAD_MS = 5000;

export interface PmtpWorkers {
  close(): Promise<void>;
}

export async function startPmtpService(
  config: Config,
  deps: Omit<PmtpContextDeps, 'powSecret'> & { keys?: LocalKeyRing; certificates?: DomainCertificates },
): Promise<PmtpService> {
  const nowMs = deps.now ?? Date.now;
  const nowS = () => Math.floor(nowMs() / 1000);
  const keys = deps.keys ?? (await loadKeyRing(config, nowS));
  const identities = await loadDomainIdentities(config, keys, nowS);
  // `mailbridge keys rotate|revoke` rewrite a ring file; the running gateway picks it up here
  const reloads = setInterval(() => {
    for (const identity of identities.values())
      identity.keys
        .reload()
        .catch((err: unknown) =>
          deps.log.warn({ err: String(err), domain: identity.keys.domain }, 'pmtp key ring not reloaded'),
        );
  }, RING_RELOAD_MS);
  reloads.unref();
  // a domain without a public URL of its own is reached where the listener is bound
  let bound = '';
  const endpointOf = (publicUrl: string | undefined) => {
    const fixed = publicUrl ? new URL(publicUrl).origin : '';
    return () => fixed || bound;
  };
  const ownDomains = new Map<string, OwnDomain>();
  const context = buildPmtpContext(
    config,
    keys,
    {
      ...deps,
      powSecret: await loadPowSecret(config),
      ...(config.node ? { nodeSecret: await loadNodeSecret(config.node.secret_file) } : {}),
    },
    endpointOf(config.pmtp.public_url),
    ownDomains,
  );
  const others = new Map<string, PmtpContext>();
  for (const [domain, identity] of identities) {
    if (domain === keys.domain) continue;
    const view = domainContext(context, identity.keys, endpointOf(identity.publicUrl));
    others.set(domain, view);
    ownDomains.set(domain, { endpoint: view.endpoint, keySet: (s) => identity.keys.keySet(s) });
  }
  const listener = await startPmtpListener(context, others, deps.certificates);
  bound = listener.url;
  // the other nodes hand us pulls of the copies our disk holds from now on
  if (config.node) await context.fleet?.nodes.register(config.node.id, config.node.internal_url);
  const endpoint = context.endpoint();
  for (const rt of [context, ...others.values()]) {
    deps.log.info(
      { url: listener.url, endpoint: rt.endpoint(), domain: rt.domain, keyId: rt.keys.current.keyId },
      'pmtp listening',
    );
  }
  return {
    url: listener.url,
    endpoint,
    outbox: new PmtpOutbox(context, others),
    context,
    others,
    allowlistCorrespondents: (sender, recipients) => allowlistCorrespondents(context.contacts, sender, recipients),
    updateSecureContext: (material) => listener.updateSecureContext(material),
    close: () => {
      clearInterval(reloads);
      return listener.close();
    },
  };
}

export function startPmtpWorkers(
  context: PmtpContext,
  deps: { localDelivery: LocalDelivery; redis: RedisClient; others?: ReadonlyMap<string, PmtpContext> },
): PmtpWorkers {
  const others = [...(deps.others ?? new Map<string, PmtpContext>()).entries()];
  const { config } = context;
  const connection = createRedisConnection(config, 'worker');
  connection.on('error', (err) => context.log.warn({ err: err.message }, 'redis worker connection error'));
  const breaker = new CircuitBreaker(deps.redis, config.redis.prefix, context.queues, {
    failures: config.pmtp.breaker_failures,
    firstPauseMs: config.pmtp.breaker_first_pause_s * 1000,
    pauseMs: config.pmtp.breaker_pause_s * 1000,
  });
  const noticeFor = (rt: PmtpContext) =>
    createNoticeProcessor({ rt, batcher: new NoticeBatcher(rt.client, rt.domain), breaker });
  const notice = createMailWorker(
    config,
    'notice',
    noticeByOrigin(context, new Map(others.map(([d, rt]) => [d, noticeFor(rt)])), noticeFor(context)),
    connection,
  );
  // one ack batcher per domain, shared by every domain's pull: a pull acks each domain's recipients
  // with that domain's own signature
  const ackers = new Map(
    [context, ...others.map(([, rt]) => rt)].map((rt) => [rt.domain, new AckBatcher(rt.client, rt.domain)]),
  );
  const acksFor = (domain: string) => ackers.get(domain) ?? ackers.get(context.domain)!;
  const pullFor = (rt: PmtpContext) => createPullProcessor(rt, deps.localDelivery, acksFor);
  const pull = createMailWorker(
    config,
    'pull',
    pullByRecipientDomain(context, new Map(others.map(([d, rt]) => [d, pullFor(rt)])), pullFor(context)),
    connection,
  );
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
