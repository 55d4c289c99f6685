// Which of our domains answers a request on the one PMTP listener: the domain a signed request
// names in PMTP-Destination, the `?domain=` of a key set or server information request (each
// domain has its own keys and size limit), else the domain whose public
// URL has the request's host, else the default. A wrong pick only fails: each domain's app checks
// signatures against its own domain and endpoint, never against what chose it.
import { PATHS } from '../protocol/endpoints.js';

export interface DispatchRequest {
  readonly url?: string | undefined;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

export interface DispatchTarget {
  /** our public endpoint origin for this domain */
  readonly endpoint: () => string;
}

/** `targets` in Map order, the default domain first. */
export function pickDomain<T extends DispatchTarget>(targets: ReadonlyMap<string, T>, request: DispatchRequest): T {
  const [first] = targets.values();
  if (first === undefined) throw new Error('no PMTP domain to answer for');
  const named = single(request.headers['pmtp-destination'])?.trim().toLowerCase();
  if (named && targets.has(named)) return targets.get(named)!;
  const url = new URL(request.url ?? '/', 'http://request.invalid');
  const asked =
    url.pathname === PATHS.keys || url.pathname === PATHS.server
      ? url.searchParams.get('domain')?.toLowerCase()
      : undefined;
  if (asked && targets.has(asked)) return targets.get(asked)!;
  const host = (single(request.headers.host) ?? single(request.headers[':authority']))?.toLowerCase();
  if (host) {
    const byHost = [...targets.values()].filter((t) => hostOf(t.endpoint()) === host);
    // domains sharing one endpoint cannot be told apart by host: the default answers
    if (byHost.length === 1) return byHost[0]!;
  }
  return first;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function hostOf(endpoint: string): string | undefined {
  try {
    return new URL(endpoint).host.toLowerCase();
  } catch {
    return undefined;
  }
}
