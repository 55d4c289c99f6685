// The composition root: builds each part from the one config object and wires them through
// the spool and the queues, in mail-path order. Nothing else constructs long-lived parts.

import { QueueInspector } from './admin/queue-inspection.js';
import { queuePage } from './admin/queue-page.js';
import type { Config } from './config/schema.js';
import { createInboundProcessor, type PmtpSubmission } from './dispatch/inbound-dispatch.js';
import { pmtpHandoff } from './dispatch/pmtp-handoff.js';
import { type MailResolver, systemResolver } from './dns/resolver.js';
import { loadZoneFile } from './dns/zone-file.js';
import { zoneResolver } from './dns/zone-resolver.js';
import { startSmtpListeners } from './inbound-smtp/listeners.js';
import type { Logger } from './log.js';
import { DeliveryLedger } from './mailbox/delivery-ledger.js';
import { dsnToLocalMailbox } from './mailbox/local-dsn.js';
import { LocalMailboxes } from './mailbox/local-mailboxes.js';
import { pulledMailDelivery } from './mailbox/pulled-mail-delivery.js';
import { startPmtpService, startPmtpWorkers } from './native/service/pmtp-service.js';
import { DomainCertificates } from './net/domain-certificates.js';
import { type Page, startHttpEndpoints } from './observability/http-endpoints.js';
import {
  domainSettingsKey,
  logLevelReloadable,
  pmtpTls,
  settingReloadable,
  smtpListenerTls,
} from './observability/live-settings.js';
import { createMetrics } from './observability/metrics.js';
import { redisCheck, spoolWritableCheck } from './observability/readiness.js';
import type { Reloadable } from './observability/reload.js';
import { TrafficLedger } from './observability/traffic-ledger.js';
import { createOutboundAgent } from './outbound-smtp/outbound-agent.js';
import { LivePolicy } from './policy/live-policy.js';
import { MessageAcceptor } from './queue/accept.js';
import { DeliveryStatusStore } from './queue/delivery-status.js';
import { DsnLedger } from './queue/dsn-ledger.js';
import { dsnViaAcceptor } from './queue/dsn-sink.js';
import { HeldMessages } from './queue/held-messages.js';
import { createMailWorker, MailQueues } from './queue/queues.js';
import type { RedisClient } from './queue/redis-connection.js';
import { createRedisConnection, waitReady } from './queue/redis-connection.js';
import { SpoolReconciler } from './queue/spool-reconciler.js';
import type { Spool } from './spool/spool.js';
import { spoolFromConfig } from './spool/spool-from-config.js';

/** An entry this young may be between its rename and its job add: the reconciler leaves it alone. */
const reconcileGraceMs = 60_000;

export interface ListeningAddress {
  readonly service: string;
  readonly address: string;
}

export interface RunningGateway {
  readonly listening: readonly ListeningAddress[];
  readonly recovered: { readonly entries: number; readonly requeued: readonly string[] };
  /** settings SIGHUP may change without dropping connections */
  readonly reloadables: readonly Reloadable[];
  /** Stops accepting, lets in-flight work finish, closes connections. Safe to call twice. */
  close(): Promise<void>;
}

/** A running part, closed in reverse order of start so nothing feeds a closed neighbour. */
interface Part {
  readonly name: string;
  close(): Promise<void>;
}

export async function startGateway(config: Config, log: Logger): Promise<RunningGateway> {
  const parts: Part[] = [];
  const closeAll = async (): Promise<void> => {
    for (const part of parts.splice(0).reverse()) {
      await part.close().catch((err: unknown) => log.error({ err, part: part.name }, 'error while closing'));
    }
  };
  try {
    const spool = spoolFromConfig(config.spool);
    await spool.init();

    const producer = createRedisConnection(config, 'producer');
    producer.on('error', (err) => log.warn({ err: err.message }, 'redis producer connection error'));
    parts.push({ name: 'redis-producer', close: async () => void producer.disconnect() });
    await waitReady(producer).catch((err: unknown) => {
      throw new Error(
        `cannot reach Redis at ${redactUrl(config.redis.url)}: ${err instanceof Error ? err.message : String(err)}`,
      );
    });

    const queues = new MailQueues(config, producer);
    parts.push({ name: 'queues', close: () => queues.close() });
    const traffic = new TrafficLedger(producer, config.redis.prefix);
    // closed after every part that counts traffic, before the Redis connection goes
    parts.push({ name: 'traffic-ledger', close: () => traffic.flush() });
    const metrics = createMetrics({
      queues,
      traffic,
      spool,
      redis: producer,
      certificates: [
        ...config.smtp.listeners.flatMap((l, i) =>
          l.tls ? [{ listener: `smtp ${l.role} ${i}`, file: l.tls.cert }] : [],
        ),
        ...(config.pmtp.listen.tls ? [{ listener: 'pmtp', file: config.pmtp.listen.tls.cert }] : []),
        ...Object.entries(config.domains.settings).flatMap(([domain, own]) =>
          own.tls ? [{ listener: `domain ${domain}`, file: own.tls.cert }] : [],
        ),
      ],
    });
    const listening: ListeningAddress[] = [];
    if (config.metrics.enabled) {
      const endpoints = await startHttpEndpoints(config.metrics, {
        metrics,
        checks: [redisCheck(producer), spoolWritableCheck(config.spool.dir)],
        log,
        pages: config.metrics.queue_view ? queuePages(config, spool, queues, producer) : [],
      });
      parts.push({ name: 'http-endpoints', close: () => endpoints.close() });
      listening.push({ service: 'metrics', address: endpoints.address });
    }
    const acceptor = new MessageAcceptor(spool, queues, log);
    // before any listener opens: a live draft must never be mistaken for crash debris
    const recovered = await acceptor.recover();
    log.info({ spooled: recovered.entries, requeued: recovered.requeued.length }, 'spool recovered');
    // and again while running: the spool is the truth, an entry that loses its job gets it back
    const reconciler = new SpoolReconciler(acceptor, producer, log, {
      intervalMs: config.queues.reconcile_interval_s * 1000,
      graceMs: reconcileGraceMs,
      // a fleet node's spool is its own: it takes no turns with the other nodes
      prefix: config.node ? `${config.redis.prefix}:node:${config.node.id}` : config.redis.prefix,
    });
    reconciler.start();
    parts.push({ name: 'spool-reconciler', close: () => reconciler.close() });

    const resolver = await buildResolver(config);
    // one policy object for SMTP (RCPT) and PMTP (notices), so a SIGHUP changes both at once; the
    // same for the domains' own certificates
    const policy = new LivePolicy(config.domains);
    const certificates = await DomainCertificates.load(config);
    const status = new DeliveryStatusStore(producer, config.redis.prefix);
    const mailboxes = new LocalMailboxes(config, { ledger: new DeliveryLedger(producer, config.redis.prefix) });
    const sendDsn = dsnToLocalMailbox(mailboxes, dsnViaAcceptor(spool, acceptor));

    const workerConnection = createRedisConnection(config, 'worker');
    workerConnection.on('error', (err) => log.warn({ err: err.message }, 'redis worker connection error'));
    parts.push({ name: 'redis-worker', close: async () => void workerConnection.disconnect() });
    // PMTP runs when this gateway has a domain key: it serves pulls and pulls for our recipients
    const pmtp =
      config.pmtp.domain && config.pmtp.key_file
        ? await startPmtpService(config, {
            spool,
            queues,
            acceptor,
            resolver,
            log,
            redis: producer,
            policy,
            sendDsn,
            metrics,
            certificates,
            traffic,
          })
        : undefined;
    let submitPmtp: PmtpSubmission | undefined;
    if (pmtp) {
      parts.push({ name: 'pmtp-listener', close: () => pmtp.close() });
      listening.push({ service: 'pmtp', address: pmtp.url });
      const workers = startPmtpWorkers(pmtp.context, {
        localDelivery: pulledMailDelivery({ config, mailboxes, spool, acceptor, log }),
        redis: producer,
        others: pmtp.others,
      });
      parts.push({ name: 'pmtp-workers', close: () => workers.close() });
      submitPmtp = pmtpHandoff({
        config,
        spool,
        outbox: pmtp.outbox,
        allowlistCorrespondents: pmtp.allowlistCorrespondents,
        index: (queueId, id) => pmtp.context.status.index(queueId, id),
      });
    }
    const inbound = createMailWorker(
      config,
      'inbound',
      createInboundProcessor({
        spool,
        queues,
        mailboxes,
        status,
        log,
        metrics,
        submitPmtp,
        hostname: config.hostname,
        sendDsn,
      }),
      workerConnection,
    );
    // Worker.close() waits for in-flight jobs: the graceful part of a graceful shutdown
    parts.push({ name: 'inbound-worker', close: () => inbound.close() });

    const dsnLedger = new DsnLedger(producer, config.redis.prefix);
    const agent = await createOutboundAgent(config, {
      spool,
      resolver,
      status,
      log,
      redis: producer,
      sendDsn,
      dsnLedger,
      metrics,
      traffic,
    });
    parts.push({ name: 'smtp-delivery', close: async () => agent.close() });
    const outbound = createMailWorker(config, 'outbound', agent.processor, workerConnection);
    parts.push({ name: 'outbound-worker', close: () => outbound.close() });
    // closed first: a job waiting for a destination's slot must not hold up the worker's close
    parts.push({ name: 'smtp-admission', close: async () => agent.stopWaiting() });

    const smtp = await startSmtpListeners(
      config,
      { acceptor, spool, resolver, log, metrics, traffic },
      policy,
      certificates,
    );
    parts.push({ name: 'smtp-listeners', close: () => smtp.close() });

    listening.push(...smtp.addresses.map((a) => ({ service: `smtp ${a.role}`, address: `${a.host}:${a.port}` })));
    return {
      listening,
      reloadables: [
        logLevelReloadable(log),
        {
          ...settingReloadable(
            'policy',
            ['domains.recipients', 'domains.first_contact'],
            (c) => ({
              recipients: c.domains.recipients,
              first_contact: c.domains.first_contact,
              settings: c.domains.settings,
            }),
            (settings) => policy.apply(settings),
          ),
          // a domain's own first-contact rules and size limit; its own PMTP keys and DKIM need a restart
          covers: domainSettingsKey(['first_contact', 'max_message_bytes']),
        },
        settingReloadable(
          'accounts',
          ['smtp.accounts', 'smtp.dovecot_auth'],
          (c) => ({ accounts: c.smtp.accounts, dovecot_auth: c.smtp.dovecot_auth }),
          (settings) => smtp.applyAccounts(settings),
        ),
        settingReloadable(
          'recipient verification',
          ['domains.verify'],
          (c) => ({ verify: c.domains.verify, postfix: c.domains.postfix }),
          (settings) => smtp.applyVerification(settings),
        ),
        {
          name: 'domain certificates',
          keys: [],
          covers: domainSettingsKey(['tls']),
          // re-read on every reload, like the listeners' own: a renewed certificate changes the file
          apply: (next) => certificates.reload(next),
        },
        ...config.smtp.listeners.flatMap((l, i) =>
          l.tls ? [smtpListenerTls(i, (material) => smtp.updateSecureContext(i, material))] : [],
        ),
        ...(pmtp && config.pmtp.listen.tls ? [pmtpTls((material) => pmtp.updateSecureContext(material))] : []),
      ],
      recovered,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** The read-only queue view (`metrics.queue_view`): /queue for a browser, /queue.json for scripts. */
function queuePages(config: Config, spool: Spool, queues: MailQueues, redis: RedisClient): Page[] {
  const inspector = new QueueInspector({
    spool,
    queues,
    status: new DeliveryStatusStore(redis, config.redis.prefix),
    held: new HeldMessages(redis, config.redis.prefix),
  });
  return [
    { path: '/queue', render: (query) => queuePage(inspector, { query, format: 'html' }) },
    { path: '/queue.json', render: (query) => queuePage(inspector, { query, format: 'json' }) },
  ];
}

/** Offline zone file when configured (staging, tests), the system resolver otherwise. */
export async function buildResolver(config: Pick<Config, 'dns'>): Promise<MailResolver> {
  return config.dns.zone_file ? zoneResolver(await loadZoneFile(config.dns.zone_file)) : systemResolver();
}

/** Redis URLs may carry a password; never print it. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable url)';
  }
}
