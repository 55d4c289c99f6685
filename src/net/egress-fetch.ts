// Every outbound HTTP request of ours (PMTP calls, key and server-info fetches, redirects, MTA-STS)
// goes through here: the name is resolved once, non-public addresses are refused unless the host is
// allowed by name, the connection is pinned to the checked address, and time and body size are capped.

import type { LookupAddress } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { pipeline, Readable, Transform } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { MailbridgeError } from '../codes.js';
import { isPublicAddress } from './address-class.js';

export interface EgressPolicy {
  /** host names or IP literals (lowercase) allowed to be non-public and plain http: staging and tests */
  readonly allowedHosts: ReadonlySet<string>;
  /** name to addresses; the system resolver unless a test passes its own */
  readonly resolve?: (host: string) => Promise<readonly LookupAddress[]>;
  /** CA certificates (PEM) trusted for https besides Node's bundled roots: `egress.extra_ca_files` */
  readonly extraCa?: readonly string[];
}

export interface EgressRequest {
  readonly method?: 'GET' | 'POST' | 'DELETE';
  readonly headers?: Record<string, string>;
  readonly body?: Buffer;
  /** the whole exchange, connect to the last body byte */
  readonly timeoutMs: number;
  /** a longer body fails with response_too_large */
  readonly maxBodyBytes: number;
}

// pooled like fetch's connections; idle sockets do not hold the process open
const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: 64 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 64 }),
};

/** The response with its body unread. Redirects are never followed: a 3xx comes back as is. */
export async function egressFetch(url: string, request: EgressRequest, policy: EgressPolicy): Promise<Response> {
  const target = new URL(url);
  if (target.protocol !== 'https:' && target.protocol !== 'http:')
    throw new MailbridgeError('egress_refused', `${target.protocol} is not http(s)`);
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const allowed = policy.allowedHosts.has(host);
  if (target.protocol === 'http:' && !allowed)
    throw new MailbridgeError('egress_refused', `plain http to ${host} is not allowed`);
  if (isIP(host) !== 0 && !allowed && !isPublicAddress(host))
    throw new MailbridgeError('egress_refused', `${host} is not a public address`);
  const resolve = policy.resolve ?? ((name: string) => dnsLookup(name, { all: true, verbatim: true }));
  const lookup = pinnedLookup(host, allowed, resolve);

  return new Promise<Response>((resolveResponse, reject) => {
    const secure = target.protocol === 'https:';
    const outgoing = (secure ? https : http).request(target, {
      method: request.method ?? 'GET',
      headers: request.headers,
      agent: secure ? agents.https : agents.http,
      lookup,
      ...(secure && policy.extraCa?.length ? { ca: [...rootCertificates, ...policy.extraCa] } : {}),
    });
    const timer = setTimeout(
      () => outgoing.destroy(new MailbridgeError('connection_failed', `no complete answer in ${request.timeoutMs} ms`)),
      request.timeoutMs,
    );
    timer.unref();
    outgoing.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    outgoing.on('response', (incoming) => {
      incoming.on('close', () => clearTimeout(timer));
      const declared = Number(incoming.headers['content-length']);
      if (Number.isFinite(declared) && declared > request.maxBodyBytes) {
        outgoing.destroy();
        reject(tooLarge(request.maxBodyBytes));
        return;
      }
      const status = incoming.statusCode ?? 502;
      const nullBody = status === 204 || status === 205 || status === 304;
      let body: ReadableStream | null = null;
      if (nullBody) incoming.resume();
      else {
        // pipeline carries a reset connection through to the reader, and a cancelled reader back to the socket
        const limiter = capped(request.maxBodyBytes);
        pipeline(incoming, limiter, () => undefined);
        body = Readable.toWeb(limiter) as ReadableStream;
      }
      resolveResponse(new Response(body, { status, headers: headersOf(incoming.headers) }));
    });
    outgoing.end(request.body);
  });
}

type LookupCallback = (err: Error | null, address: string | LookupAddress[], family?: number) => void;

/** A `lookup` for net.connect that answers only with checked addresses, so the connection uses what was checked. */
function pinnedLookup(
  host: string,
  allowed: boolean,
  resolve: (host: string) => Promise<readonly LookupAddress[]>,
): (hostname: string, options: { all?: boolean }, callback: LookupCallback) => void {
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (addresses) => {
        const usable = allowed ? [...addresses] : addresses.filter((a) => isPublicAddress(a.address));
        if (usable.length === 0) {
          const seen = addresses.map((a) => a.address).join(', ') || 'nothing';
          callback(new MailbridgeError('egress_refused', `${host} resolves to ${seen}, not a public address`), []);
          return;
        }
        if (options.all) callback(null, usable);
        else callback(null, usable[0]!.address, usable[0]!.family);
      },
      (err: Error) => callback(err, []),
    );
  };
}

function capped(maxBytes: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > maxBytes) done(tooLarge(maxBytes));
      else done(null, chunk);
    },
  });
}

function tooLarge(maxBytes: number): MailbridgeError {
  return new MailbridgeError('response_too_large', `response body over ${maxBytes} bytes`);
}

function headersOf(raw: http.IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return headers;
}
