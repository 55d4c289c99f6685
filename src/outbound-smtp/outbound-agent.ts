// Assembles the outbound delivery agent from config: SMTP pools, the DKIM signer, MTA-STS, DSNs.
// The gateway and the smtp-out benchmark both run exactly this, so the figures measure the product.

import path from 'node:path';
import type { Config } from '../config/schema.js';
import type { MailResolver } from '../dns/resolver.js';
import type { Logger } from '../log.js';
import { loadDomainSigners } from '../mail/domain-signers.js';
import type { DsnSink } from '../mail/dsn.js';
import { egressPolicyOf } from '../net/egress-policy.js';
import type { Metrics } from '../observability/metrics.js';
import type { TrafficLedger } from '../observability/traffic-ledger.js';
import type { DeliveryStatusStore } from '../queue/delivery-status.js';
import { DestinationLimits } from '../queue/destination-limits.js';
import type { DsnLedger } from '../queue/dsn-ledger.js';
import type { MailProcessor } from '../queue/queues.js';
import type { RedisClient } from '../queue/redis-connection.js';
import type { Spool } from '../spool/spool.js';
import { SmtpDelivery } from './deliver.js';
import { MtaStsPolicies, policyFetcherOverHttps } from './mta-sts.js';
import { createOutboundProcessor } from './outbound-worker.js';

export interface OutboundAgent {
  readonly processor: MailProcessor<'outbound'>;
  /** closes the SMTP connection pools */
  close(): void;
  /** ends waits for a destination's slot; call before the worker is closed, which waits for its jobs */
  stopWaiting(): void;
}

export async function createOutboundAgent(
  config: Config,
  deps: {
    spool: Spool;
    resolver: MailResolver;
    status: DeliveryStatusStore;
    log: Logger;
    /** holds the per-destination limits every gateway on this Redis shares */
    redis: RedisClient;
    sendDsn?: DsnSink;
    dsnLedger?: DsnLedger;
    metrics?: Metrics;
    traffic?: Pick<TrafficLedger, 'record'>;
  },
): Promise<OutboundAgent> {
  const limits = new DestinationLimits(deps.redis, config.redis.prefix);
  const delivery = new SmtpDelivery(config, limits);
  const processor = createOutboundProcessor({
    config,
    ...deps,
    delivery,
    dkim: await loadDomainSigners(config, path.join(deps.spool.tmpDir, 'dkim-cache')),
    mtaSts: config.outbound.mta_sts
      ? new MtaStsPolicies(deps.resolver, policyFetcherOverHttps(egressPolicyOf(config.egress)))
      : undefined,
  });
  return { processor, close: () => delivery.close(), stopWaiting: () => limits.stopWaiting() };
}
