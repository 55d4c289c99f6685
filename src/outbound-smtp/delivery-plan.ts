// delivery-plan: sorts a message's recipients into one transaction per destination. Domains that
// share a route (the relayhost, or the same MX hosts) share a transaction; a domain whose route
// cannot be had gets its answer here (null MX, no such domain, DNS trouble, MTA-STS mismatch).

import type { Config } from '../config/schema.js';
import type { MailResolver } from '../dns/resolver.js';
import type { Logger } from '../log.js';
import type { RecipientResult } from './deliver.js';
import { applyPolicy, type MtaStsPolicies } from './mta-sts.js';
import { type Route, routeFor } from './mx-route.js';
import { classifyError } from './reply-class.js';

export interface PlannedDelivery {
  readonly route: Route;
  readonly verifyTls: boolean;
  readonly recipients: string[];
}

export interface DeliveryPlan {
  readonly deliveries: readonly PlannedDelivery[];
  /** recipients whose route failed, already decided */
  readonly unroutable: readonly RecipientResult[];
}

export interface PlanContext {
  readonly config: Pick<Config, 'domains' | 'outbound'>;
  readonly resolver: MailResolver;
  /** absent, or `outbound.mta_sts: false`, means no MTA-STS checks */
  readonly mtaSts?: MtaStsPolicies;
  readonly log: Logger;
}

export async function planDeliveries(recipients: readonly string[], ctx: PlanContext): Promise<DeliveryPlan> {
  const byDomain = new Map<string, string[]>();
  for (const recipient of recipients) {
    const domain = recipient.slice(recipient.lastIndexOf('@') + 1).toLowerCase();
    byDomain.set(domain, [...(byDomain.get(domain) ?? []), recipient]);
  }
  const deliveries = new Map<string, PlannedDelivery>();
  const unroutable: RecipientResult[] = [];
  await Promise.all(
    [...byDomain].map(async ([domain, domainRecipients]) => {
      try {
        const { route, verifyTls } = await decide(domain, ctx);
        const key = [
          route.kind,
          verifyTls,
          ...route.hops.map((h) => `${h.host}:${h.port}:${h.protocol}:${h.mxName ?? ''}`),
        ].join('|');
        const planned = deliveries.get(key);
        if (planned) planned.recipients.push(...domainRecipients);
        else deliveries.set(key, { route, verifyTls, recipients: [...domainRecipients] });
      } catch (err) {
        const outcome = classifyError(err);
        for (const recipient of domainRecipients)
          unroutable.push({ recipient, outcome: outcome.class, reply: outcome.reply, code: outcome.code });
      }
    }),
  );
  return { deliveries: [...deliveries.values()], unroutable };
}

async function decide(domain: string, ctx: PlanContext): Promise<{ route: Route; verifyTls: boolean }> {
  const route = await routeFor(domain, ctx.config, ctx.resolver);
  if (route.kind !== 'mx' || !ctx.mtaSts || !ctx.config.outbound.mta_sts) return { route, verifyTls: false };
  const decision = applyPolicy(route, await ctx.mtaSts.policyFor(domain));
  if (decision.wouldRefuse.length > 0)
    ctx.log.warn({ domain, wouldRefuse: decision.wouldRefuse }, 'MTA-STS testing policy would refuse these MX hosts');
  return { route: decision.route, verifyTls: decision.verifyTls };
}
