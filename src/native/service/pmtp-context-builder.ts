// Builds the PMTP context (src/native/pmtp-context.ts) once from config: our keys, the peer
// directory, the signed client and the Redis-backed stores. Passed down, never global. Each added
// domain (domains.settings.<d>.pmtp) gets a view of it with its own domain, keys, endpoint and client.

import type { Config } from '../../config/schema.js';
import type { MailResolver } from '../../dns/resolver.js';
import type { Logger } from '../../log.js';
import type { DsnSink } from '../../mail/dsn.js';
import { egressPolicyOf } from '../../net/egress-policy.js';
import type { Metrics } from '../../observability/metrics.js';
import { TrafficLedger } from '../../observability/traffic-ledger.js';
import { LivePolicy } from '../../policy/live-policy.js';
import type { MessageAcceptor } from '../../queue/accept.js';
import { DsnLedger } from '../../queue/dsn-ledger.js';
import { FleetNodes } from '../../queue/fleet-nodes.js';
import type { MailQueues } from '../../queue/queues.js';
import type { RedisClient } from '../../queue/redis-connection.js';
import type { Spool } from '../../spool/spool.js';
import { fetchJson, KEY_SET_MAX_BYTES, PmtpClient } from '../client/pmtp-client.js';
import { PowSolver } from '../client/pow-solver.js';
import { DiscoveryAnchor } from '../keys/discovery-anchor.js';
import type { LocalKeyRing } from '../keys/local-keys.js';
import { type OwnDomain, PeerDirectory } from '../keys/peer-directory.js';
import type { PmtpContext } from '../pmtp-context.js';
import { ContactStore } from '../state/contacts.js';
import { DeferredTokenStore } from '../state/deferred-tokens.js';
import { DelegateGrantStore } from '../state/delegate-grants.js';
import { InboundNoticeStore } from '../state/inbound-notices.js';
import { NonceStore } from '../state/nonce-store.js';
import { OriginBacklog } from '../state/origin-backlog.js';
import { OutboxIndex } from '../state/outbox-index.js';
import { RedisPeerTrust } from '../state/peer-trust.js';
import { PmtpStatusStore } from '../state/pmtp-status.js';
import { PowStampStore } from '../state/pow-stamps.js';
import { RateLimiter } from '../state/rate-limiter.js';
import { SenderTokenStore } from '../state/sender-tokens.js';

export interface PmtpContextDeps {
  readonly spool: Spool;
  readonly queues: MailQueues;
  readonly acceptor: MessageAcceptor;
  readonly resolver: MailResolver;
  readonly log: Logger;
  /** A producer connection (fail-fast). */
  readonly redis: RedisClient;
  /** Milliseconds, like Date.now. */
  readonly now?: () => number;
  /** recipient lists and first-contact rules, shared with the SMTP listeners so SIGHUP changes both */
  readonly policy?: LivePolicy;
  /** HMAC secret of our challenges (loadPowSecret) */
  readonly powSecret: Buffer;
  /** the fleet's hop secret (config `node`, loadNodeSecret); a gateway that is no fleet node has none */
  readonly nodeSecret?: Buffer;
  /** where DSNs for SMTP-born mail sent over PMTP go; none without it */
  readonly sendDsn?: DsnSink;
  readonly metrics?: Pick<Metrics, 'noticeDisposition' | 'pull' | 'challenge' | 'tokenUsed'>;
  /** the gateway's ledger, flushed when it stops; a ledger of its own without it */
  readonly traffic?: TrafficLedger;
}

export function buildPmtpContext(
  config: Config,
  keys: LocalKeyRing,
  deps: PmtpContextDeps,
  endpoint: () => string,
  /** our added domains, answered from memory like our own (filled by the caller as views are made) */
  otherDomains: ReadonlyMap<string, OwnDomain> = new Map(),
): PmtpContext {
  const nowMs = deps.now ?? Date.now;
  const nowS = () => Math.floor(nowMs() / 1000);
  const prefix = config.redis.prefix;
  const timeoutMs = config.pmtp.request_timeout_s * 1000;
  const egress = egressPolicyOf(config.egress);
  const directory = new PeerDirectory({
    config,
    resolver: deps.resolver,
    fetchJson: (url) => fetchJson(url, { timeoutMs, maxBodyBytes: KEY_SET_MAX_BYTES, egress }),
    anchor: new DiscoveryAnchor({ egress, nowS, timeoutMs }),
    trust: new RedisPeerTrust(deps.redis, prefix),
    nowS,
    self: (domain) => (domain === keys.domain ? { endpoint, keySet: (s) => keys.keySet(s) } : otherDomains.get(domain)),
  });
  const delegates = new DelegateGrantStore(deps.redis, prefix);
  const client = pmtpClientFor(config, keys, directory, nowS, delegates);
  return {
    config,
    log: deps.log,
    spool: deps.spool,
    queues: deps.queues,
    acceptor: deps.acceptor,
    policy: deps.policy ?? new LivePolicy(config.domains),
    domain: keys.domain,
    keys,
    nowMs,
    nowS,
    endpoint,
    directory,
    client,
    delegates,
    // remembered as long as the verifier would still accept the signature: expires + skew
    nonces: new NonceStore(deps.redis, prefix, config.pmtp.clock_skew_s),
    rate: new RateLimiter(deps.redis, prefix, config.pmtp.rate_limits),
    inbound: new InboundNoticeStore(deps.redis, prefix),
    deferredTokens: new DeferredTokenStore(deps.redis, prefix),
    backlog: new OriginBacklog(deps.redis, prefix),
    contacts: new ContactStore(deps.redis, prefix),
    tokens: new SenderTokenStore(deps.redis, prefix),
    stamps: new PowStampStore(deps.redis, prefix),
    status: new PmtpStatusStore(deps.redis, prefix),
    outbox: new OutboxIndex(deps.redis, prefix),
    powSecret: deps.powSecret,
    powSolver: new PowSolver({
      budgetPerHour: config.pmtp.pow_budget_per_hour,
      threads: config.pmtp.pow_threads,
      nowMs,
    }),
    ...(deps.sendDsn ? { sendDsn: deps.sendDsn } : {}),
    dsnLedger: new DsnLedger(deps.redis, prefix, nowMs),
    traffic: deps.traffic ?? new TrafficLedger(deps.redis, prefix),
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    ...(config.node && deps.nodeSecret
      ? { fleet: { nodes: new FleetNodes(deps.redis, prefix), secret: deps.nodeSecret } }
      : {}),
  };
}

/** The same context seen as another of our domains: everything shared but who we are and how we sign. */
export function domainContext(base: PmtpContext, keys: LocalKeyRing, endpoint: () => string): PmtpContext {
  return {
    ...base,
    domain: keys.domain,
    keys,
    endpoint,
    client: pmtpClientFor(base.config, keys, base.directory, base.nowS, base.delegates),
  };
}

function pmtpClientFor(
  config: Config,
  keys: LocalKeyRing,
  directory: PeerDirectory,
  nowS: () => number,
  delegates: DelegateGrantStore,
): PmtpClient {
  return new PmtpClient({
    keys,
    directory,
    nowS,
    timeoutMs: config.pmtp.request_timeout_s * 1000,
    clockSkewS: config.pmtp.clock_skew_s,
    egress: { allowedHosts: new Set(config.egress.allow_hosts) },
    delegates,
  });
}
