// mx-route: where mail for one recipient domain goes, as an ordered list of hosts to try.
// Order of precedence: domains.postfix (local mailboxes), outbound.relayhost, then MX lookup
// through the injected resolver (RFC 5321 §5.1: null MX per RFC 7505, no MX falls back to A/AAAA).

import { MailbridgeError } from '../codes.js';
import type { Config } from '../config/schema.js';
import { isNoData, type MailResolver } from '../dns/resolver.js';

/** `local`: our own legacy mailboxes; `relayhost`: the configured smarthost; `mx`: the legacy internet. */
export type RouteKind = 'local' | 'relayhost' | 'mx';

export interface Hop {
  /** what to connect to: an address for MX hops, the configured name or address otherwise */
  readonly host: string;
  readonly port: number;
  readonly protocol: 'smtp' | 'lmtp';
  /** the MX host name, for TLS name checks and MTA-STS; absent for configured hops */
  readonly mxName?: string;
}

export interface Route {
  readonly domain: string;
  readonly kind: RouteKind;
  /** most preferred first */
  readonly hops: readonly Hop[];
}

/** Postfix's smtp_mx_address_limit: more addresses than this are not worth a try per attempt. */
const maxHops = 5;

type RouteConfig = Pick<Config, 'domains' | 'outbound'>;

export async function routeFor(domain: string, config: RouteConfig, resolver: MailResolver): Promise<Route> {
  const name = domain.toLowerCase().replace(/\.$/, '');
  const local = config.domains.postfix[name];
  if (local)
    return { domain: name, kind: 'local', hops: [{ host: local.host, port: local.port, protocol: local.protocol }] };
  const relay = config.outbound.relayhost;
  if (relay)
    return {
      domain: name,
      kind: 'relayhost',
      hops: [{ host: relay.host, port: relay.port, protocol: relay.protocol }],
    };

  const exchanges = await mxHosts(name, resolver);
  const hops: Hop[] = [];
  for (const mxName of exchanges) {
    for (const address of await addressesOf(mxName, resolver)) {
      const port = config.outbound.port_map[mxName] ?? config.outbound.port_map[address] ?? 25;
      hops.push({ host: address, port, protocol: 'smtp', mxName });
      if (hops.length === maxHops) return { domain: name, kind: 'mx', hops };
    }
  }
  if (hops.length === 0) throw new MailbridgeError('no_route', `no address found for the mail hosts of ${name}`);
  return { domain: name, kind: 'mx', hops };
}

/** MX host names by preference; the domain itself when it has no MX (the implicit MX). */
async function mxHosts(domain: string, resolver: MailResolver): Promise<string[]> {
  let records;
  try {
    records = await resolver.resolveMx(domain);
  } catch (err) {
    if (!isNoData(err)) throw dnsTrouble(domain, 'MX', err);
    // NXDOMAIN for MX and for the addresses too: the domain does not exist, retrying won't help
    if ((err as { code?: string }).code !== 'ENODATA' && (await addressesOf(domain, resolver)).length === 0) {
      throw new MailbridgeError('unknown_domain', `${domain}: no such domain`, { cause: err });
    }
    return [domain];
  }
  if (records.length === 0) return [domain];
  const isNull = (exchange: string): boolean => exchange === '' || exchange === '.';
  const real = records.filter((r) => !isNull(r.exchange));
  // RFC 7505: a null MX alone means "this domain never takes mail"
  if (real.length === 0) throw new MailbridgeError('null_mx', `${domain} publishes a null MX: it does not accept mail`);
  return [...real].sort((a, b) => a.priority - b.priority).map((r) => r.exchange.toLowerCase().replace(/\.$/, ''));
}

async function addressesOf(host: string, resolver: MailResolver): Promise<string[]> {
  const lookups = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
  const found: string[] = [];
  for (const result of lookups) {
    if (result.status === 'fulfilled') found.push(...result.value);
    else if (!isNoData(result.reason)) throw dnsTrouble(host, 'A/AAAA', result.reason);
  }
  return found;
}

/** SERVFAIL, timeouts and the like: the answer may be different later. */
function dnsTrouble(name: string, rrtype: string, err: unknown): MailbridgeError {
  const code = (err as { code?: string } | undefined)?.code ?? 'error';
  return new MailbridgeError('no_route', `DNS ${rrtype} lookup for ${name} failed: ${code}`, { cause: err });
}
