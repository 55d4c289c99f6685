// Every part the PMTP/1 server, outbox and workers may draw on, as one catalogue of types. No file
// takes all of it: each route, worker and the outbox names the members it uses with `Pick`, and
// src/native/service/pmtp-context-builder.ts builds the one object that satisfies them all.

import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { DsnSink } from '../mail/dsn.js';
import type { Metrics } from '../observability/metrics.js';
import type { TrafficLedger } from '../observability/traffic-ledger.js';
import type { LivePolicy } from '../policy/live-policy.js';
import type { MessageAcceptor } from '../queue/accept.js';
import type { DsnLedger } from '../queue/dsn-ledger.js';
import type { FleetNodes } from '../queue/fleet-nodes.js';
import type { MailQueues } from '../queue/queues.js';
import type { Spool } from '../spool/spool.js';
import type { PmtpClient } from './client/pmtp-client.js';
import type { PowSolver } from './client/pow-solver.js';
import type { LocalKeyRing } from './keys/local-keys.js';
import type { PeerDirectory } from './keys/peer-directory.js';
import type { ContactStore } from './state/contacts.js';
import type { DeferredTokenStore } from './state/deferred-tokens.js';
import type { DelegateGrantStore } from './state/delegate-grants.js';
import type { InboundNoticeStore } from './state/inbound-notices.js';
import type { NonceStore } from './state/nonce-store.js';
import type { OriginBacklog } from './state/origin-backlog.js';
import type { OutboxIndex } from './state/outbox-index.js';
import type { PmtpStatusStore } from './state/pmtp-status.js';
import type { PowStampStore } from './state/pow-stamps.js';
import type { RateLimiter } from './state/rate-limiter.js';
import type { SenderTokenStore } from './state/sender-tokens.js';

export interface PmtpContext {
  readonly config: Config;
  readonly log: Logger;
  readonly spool: Spool;
  readonly queues: MailQueues;
  readonly acceptor: MessageAcceptor;
  /** recipient lists and first-contact rules, shared with the SMTP listeners so SIGHUP changes both */
  readonly policy: LivePolicy;
  /** our PMTP domain */
  readonly domain: string;
  readonly keys: LocalKeyRing;
  readonly nowMs: () => number;
  readonly nowS: () => number;
  /** Our public endpoint origin, e.g. https://pmtp.example.org. */
  readonly endpoint: () => string;
  readonly directory: PeerDirectory;
  readonly client: PmtpClient;
  readonly nonces: NonceStore;
  /** origin side: delegate keys recipient domains granted us in redirects, each for one recipient */
  readonly delegates: DelegateGrantStore;
  readonly rate: RateLimiter;
  /** recipient side: notices we were sent and their recipients */
  readonly inbound: InboundNoticeStore;
  /** recipient side: the tokens of notices deferred until their author's provenance is read */
  readonly deferredTokens: DeferredTokenStore;
  /** recipient side: deferred notices and queued pulls held per origin, each capped */
  readonly backlog: OriginBacklog;
  readonly contacts: ContactStore;
  readonly tokens: SenderTokenStore;
  readonly stamps: PowStampStore;
  /** origin side: each recipient's state per message we sent */
  readonly status: PmtpStatusStore;
  readonly outbox: OutboxIndex;
  /** origin side: where DSNs for SMTP-born mail go (absent: none are sent) */
  readonly sendDsn?: DsnSink;
  /** origin side: which DSNs were sent, so each outcome is reported once */
  readonly dsnLedger: DsnLedger;
  /** HMAC key of our proof-of-work challenges (pmtp.pow_secret_file), independent of the domain key. */
  readonly powSecret: Buffer;
  /** origin side: solves the challenges recipients give us, off the event loop and within budget */
  readonly powSolver: PowSolver;
  /** the migration ledger: PMTP mail each way and notice outcomes, per peer domain (`mailbridge report`) */
  readonly traffic: Pick<TrafficLedger, 'record'>;
  /** a fleet node (config `node`): the roll of nodes and the secret their hand-offs carry */
  readonly fleet?: { readonly nodes: FleetNodes; readonly secret: Buffer };
  /** PMTP series on /metrics (notices, pulls, challenges, tokens); none without it */
  readonly metrics?: Pick<Metrics, 'noticeDisposition' | 'pull' | 'challenge' | 'tokenUsed'>;
}
