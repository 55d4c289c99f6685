// metrics: the Prometheus series mailbridge exports, on a Registry of its own (never prom-client's
// global one), behind typed recording methods that parts receive through their deps.
// Queue depth is read from BullMQ at scrape time, so it is never stale and costs nothing between scrapes.

import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { StatusCode } from '../codes.js';
import type { QueueName } from '../config/schema.js';
import type { RecipientState } from '../queue/delivery-status.js';
import { type MailQueues, queueNames } from '../queue/queues.js';
import { queueIdTime } from '../spool/queue-id.js';
import type { Spool } from '../spool/spool.js';
import { otherDomains, type PeerTraffic, type TrafficLedger } from './traffic-ledger.js';

/** Who took a message in: an SMTP listener role, or the PMTP endpoint (a pulled message). */
export type IntakeRole = 'mx' | 'submission' | 'relay-in' | 'pmtp';
/** PMTP/1 notice dispositions (docs/protocol.md). */
export type NoticeDisposition = 'accepted' | 'deferred' | 'challenge' | 'redirect' | 'rejected';
/** `received`: dispositions we gave to a sender's notices; `sent`: ones peers gave to ours. */
export type NoticeDirection = 'received' | 'sent';
export type DeliveryRoute = 'smtp' | 'mailbox' | 'pmtp';
/** a recipient's state after an attempt, as the delivery-status store records it */
export type DeliveryOutcome = Exclude<RecipientState, 'queued'>;

export interface Metrics {
  readonly registry: Registry;
  accepted(role: IntakeRole): void;
  rejected(code: StatusCode, role: IntakeRole): void;
  /** an SMTP session we closed for trickling DATA, or for stalling while its listener was full */
  sessionCut(code: StatusCode, role: IntakeRole): void;
  noticeDisposition(disposition: NoticeDisposition, direction: NoticeDirection): void;
  /** `served`: a peer pulled a message from us; `made`: we pulled one from a peer. */
  pull(direction: 'served' | 'made', outcome: 'ok' | 'error'): void;
  challenge(event: 'issued' | 'solved' | 'failed'): void;
  tokenUsed(): void;
  /** one recipient's delivery attempt result */
  delivery(route: DeliveryRoute, outcome: DeliveryOutcome): void;
  /** arrival to final delivery of one recipient */
  deliveryLatency(seconds: number, route: DeliveryRoute): void;
}

export interface MetricsOptions {
  /** queues whose depth is read on each scrape; no queue-depth series without them */
  readonly queues?: Pick<MailQueues, 'queue'>;
  /** process_* and nodejs_* series (CPU, memory, event loop lag); on by default */
  readonly processMetrics?: boolean;
  /** the migration ledger: per-peer-domain mail over the last 7 days, read at scrape time */
  readonly traffic?: Pick<TrafficLedger, 'peers'>;
  /** the spool's entry names, for the age of its oldest message */
  readonly spool?: Pick<Spool, 'list'>;
  /** the producer connection: `mailbridge_redis_up` says whether it is ready */
  readonly redis?: { readonly status: string };
  /** TLS certificates in use, by listener name, for their expiry */
  readonly certificates?: readonly { readonly listener: string; readonly file: string }[];
}

/** Peer domains with a series of their own; the rest add up under `(other)`, so cardinality stays bounded. */
export const topPeerDomains = 20;

/** BullMQ states worth a depth series; completed jobs are kept history, not depth. */
const depthStates = ['waiting', 'prioritized', 'active', 'delayed', 'failed'] as const;

/** Longer than a healthy Redis ever takes, shorter than Prometheus's default 10 s scrape timeout. */
const depthTimeoutMs = 2000;

/** Seconds: a local mailbox takes milliseconds, a deferred remote one hours to days (Postfix's 5-day lifetime). */
const latencyBuckets = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600, 5 * 24 * 3600];

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const accepted = new Counter({
    name: 'mailbridge_messages_accepted_total',
    help: 'Messages accepted (spooled and queued), by intake role',
    labelNames: ['role'],
    registers,
  });
  const rejected = new Counter({
    name: 'mailbridge_messages_rejected_total',
    help: 'Messages or recipients refused, by status code (docs/errors.md) and intake role',
    labelNames: ['reason', 'role'],
    registers,
  });
  const cuts = new Counter({
    name: 'mailbridge_smtp_sessions_cut_total',
    help: 'SMTP sessions closed for being slow or stalled, by status code and role',
    labelNames: ['reason', 'role'],
    registers,
  });
  const notices = new Counter({
    name: 'mailbridge_pmtp_notices_total',
    help: 'PMTP notice dispositions, per recipient',
    labelNames: ['disposition', 'direction'],
    registers,
  });
  const pulls = new Counter({
    name: 'mailbridge_pmtp_pulls_total',
    help: 'PMTP message pulls',
    labelNames: ['direction', 'outcome'],
    registers,
  });
  const challenges = new Counter({
    name: 'mailbridge_pmtp_challenges_total',
    help: 'First-contact proof-of-work challenges',
    labelNames: ['event'],
    registers,
  });
  const tokens = new Counter({
    name: 'mailbridge_pmtp_tokens_used_total',
    help: 'Sender tokens accepted in place of a challenge',
    registers,
  });
  const deliveries = new Counter({
    name: 'mailbridge_deliveries_total',
    help: 'Per-recipient delivery attempt results',
    labelNames: ['route', 'outcome'],
    registers,
  });
  const latency = new Histogram({
    name: 'mailbridge_delivery_latency_seconds',
    help: 'Arrival to final delivery, per recipient',
    labelNames: ['route'],
    buckets: latencyBuckets,
    registers,
  });
  const queues = options.queues;
  if (queues) {
    new Gauge({
      name: 'mailbridge_queue_jobs',
      help: 'Jobs per mail queue and BullMQ state, read at scrape time',
      labelNames: ['queue', 'state'],
      registers,
      async collect() {
        try {
          const counts = await withTimeout(
            Promise.all(queueNames.map((name) => queues.queue(name).getJobCounts(...depthStates))),
            'queue depth',
          );
          queueNames.forEach((name: QueueName, i) => {
            for (const state of depthStates) this.set({ queue: name, state }, counts[i]![state] ?? 0);
          });
        } catch {
          // Redis away: drop the series rather than fail the scrape or report stale depths;
          // /readyz says why, and the rest of /metrics stays readable
          this.reset();
        }
      },
    });
  }
  const { spool, redis, certificates } = options;
  if (spool) {
    new Gauge({
      name: 'mailbridge_spool_oldest_message_seconds',
      help: 'Age of the oldest spool entry (queued mail and PMTP copies peers may still pull); 0 when empty',
      registers,
      async collect() {
        const [oldest] = await spool.list().catch(() => [] as string[]);
        this.set(oldest === undefined ? 0 : Math.max(0, (Date.now() - queueIdTime(oldest)) / 1000));
      },
    });
  }
  if (redis) {
    new Gauge({
      name: 'mailbridge_redis_up',
      help: '1 while the connection to Redis is ready, else 0 (mail is then refused with 451, nothing is lost)',
      registers,
      collect() {
        this.set(redis.status === 'ready' ? 1 : 0);
      },
    });
  }
  if (certificates && certificates.length > 0) {
    new Gauge({
      name: 'mailbridge_tls_certificate_expiry_timestamp_seconds',
      help: 'notAfter of each TLS certificate in use (Unix seconds), read from its file at scrape time',
      labelNames: ['listener'],
      registers,
      async collect() {
        this.reset();
        for (const { listener, file } of certificates) {
          const pem = await readFile(file).catch(() => undefined);
          // a certificate that no longer reads is left out; check-config and SIGHUP say why
          const notAfter = pem ? Date.parse(new X509Certificate(pem).validTo) : Number.NaN;
          if (Number.isFinite(notAfter)) this.set({ listener }, notAfter / 1000);
        }
      },
    });
  }
  const traffic = options.traffic;
  if (traffic) {
    new Gauge({
      name: 'mailbridge_peer_messages_7d',
      help: `Messages exchanged with each peer domain over the last 7 UTC days, by direction and protocol; the top ${topPeerDomains} domains, the rest as ${otherDomains}`,
      labelNames: ['domain', 'direction', 'protocol'],
      registers,
      async collect() {
        this.reset();
        const peers = await withTimeout(traffic.peers(7, new Date()), 'traffic ledger').catch(() => undefined);
        if (!peers) return;
        for (const p of boundedPeers(peers))
          for (const direction of ['in', 'out'] as const)
            for (const protocol of ['smtp', 'pmtp'] as const)
              this.set({ domain: p.domain, direction, protocol }, p.messages[direction][protocol]);
      },
    });
  }
  return {
    registry,
    accepted: (role) => accepted.inc({ role }),
    rejected: (code, role) => rejected.inc({ reason: code, role }),
    sessionCut: (code, role) => cuts.inc({ reason: code, role }),
    noticeDisposition: (disposition, direction) => notices.inc({ disposition, direction }),
    pull: (direction, outcome) => pulls.inc({ direction, outcome }),
    challenge: (event) => challenges.inc({ event }),
    tokenUsed: () => tokens.inc(),
    delivery: (route, outcome) => deliveries.inc({ route, outcome }),
    deliveryLatency: (seconds, route) => {
      // an entry without a parsable arrival time has no latency to report
      if (Number.isFinite(seconds)) latency.observe({ route }, Math.max(0, seconds));
    },
  };
}

/** The busiest peer domains by messages, then one `(other)` row adding up the rest. */
export function boundedPeers(peers: readonly PeerTraffic[], top = topPeerDomains): PeerTraffic[] {
  const total = (p: PeerTraffic) => p.messages.in.smtp + p.messages.in.pmtp + p.messages.out.smtp + p.messages.out.pmtp;
  const sorted = [...peers].sort((a, b) => total(b) - total(a) || a.domain.localeCompare(b.domain));
  const kept = sorted.slice(0, top).filter((p) => p.domain !== otherDomains);
  const rest = sorted.filter((p) => !kept.includes(p));
  if (rest.length === 0) return kept;
  const other = (direction: 'in' | 'out', protocol: 'smtp' | 'pmtp') =>
    rest.reduce((n, p) => n + p.messages[direction][protocol], 0);
  return [
    ...kept,
    {
      domain: otherDomains,
      messages: {
        in: { smtp: other('in', 'smtp'), pmtp: other('in', 'pmtp') },
        out: { smtp: other('out', 'smtp'), pmtp: other('out', 'pmtp') },
      },
      bytes: { in: { smtp: 0, pmtp: 0 }, out: { smtp: 0, pmtp: 0 } },
      firstContact: { received: {}, sent: {} },
    },
  ];
}

/** A scrape must not hang on a lost Redis: BullMQ waits for it forever. */
async function withTimeout<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out`)), depthTimeoutMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
