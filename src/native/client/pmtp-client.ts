// Outgoing PMTP/1 HTTP: signs every request with our domain key, checks the signed answers
// (bound to our request, from the domain we asked), turns every failure into a PmtpRequestError.
// Every request goes through the egress guard: public https only unless config allows the host,
// a timeout on the whole exchange, and a cap on every answer's size.

import type { z } from 'zod';
import { isStatusCode, MailbridgeError } from '../../codes.js';
import { type EgressPolicy, egressFetch } from '../../net/egress-fetch.js';
import { LruMap } from '../../net/lru-map.js';
import type { LocalKeyRing } from '../keys/local-keys.js';
import { PEER_CACHE_ENTRIES, type PeerDirectory } from '../keys/peer-directory.js';
import type { KeyLookup } from '../protocol/ed25519.js';
import { errorBodySchema, PATHS, type ServerInfo, serverInfoSchema } from '../protocol/endpoints.js';
import type { HeaderBag } from '../protocol/http-signature-base.js';
import { PmtpRequestError } from '../protocol/pmtp-request-error.js';
import { isEndpoint } from '../protocol/protocol-fields.js';
import { signRequest, verifyResponse } from '../protocol/request-signature.js';
import type { DelegateGrantStore } from '../state/delegate-grants.js';

export interface PmtpClientDeps {
  readonly keys: LocalKeyRing;
  readonly directory: PeerDirectory;
  readonly nowS: () => number;
  readonly timeoutMs: number;
  readonly clockSkewS: number;
  readonly egress: EgressPolicy;
  /** answers from a redirect's endpoint may be signed by the delegate key its recipient domain granted */
  readonly delegates?: Pick<DelegateGrantStore, 'answerKey'>;
}

/** Answers bigger than these fail: a JSON document, a key set or server info (RFC 8461 caps MTA-STS alike). */
export const JSON_MAX_BYTES = 1_048_576;
export const KEY_SET_MAX_BYTES = 65_536;

export interface CallOptions {
  /** The domain the request is for (PMTP-Destination). */
  readonly destination: string;
  /** Default: the destination's discovered endpoint. */
  readonly endpoint?: string;
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** Path plus query. */
  readonly path: string;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** Require and verify a response signature on 2xx (notices, status, withdraw, acks). */
  readonly signedResponse?: boolean;
  /** Largest answer body read; default JSON_MAX_BYTES. A message pull passes the message limit. */
  readonly maxBodyBytes?: number;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly response: Response;
  readonly requestHeaders: Record<string, string>;
}

/** Counts HTTP round trips, for the benchmark's "round trips per message". */
export const roundTrips = { count: 0, byPath: new Map<string, number>() };

function countTrip(method: string, url: string): void {
  roundTrips.count++;
  const key = `${method} ${new URL(url).pathname.split('/').slice(0, 4).join('/')}`;
  roundTrips.byPath.set(key, (roundTrips.byPath.get(key) ?? 0) + 1);
}

export class PmtpClient {
  private readonly infos = new LruMap<string, { info: ServerInfo; until: number }>(PEER_CACHE_ENTRIES);
  private readonly infoFetches = new Map<string, Promise<ServerInfo>>();

  constructor(private readonly deps: PmtpClientDeps) {}

  /** Sends a signed request; returns the response with its body unread. Non-2xx becomes an error. */
  async open(options: CallOptions): Promise<RawResponse> {
    const endpoint = options.endpoint ?? (await this.deps.directory.endpointOf(options.destination));
    if (!isEndpoint(endpoint)) throw new PmtpRequestError('fetch_url_invalid', `refusing endpoint ${endpoint}`, false);
    const url = `${endpoint}${options.path}`;
    const body = options.body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(options.body), 'utf8');
    const signed = signRequest(
      { method: options.method, url },
      { signer: this.deps.keys.signer, destination: options.destination, body, created: this.deps.nowS() },
    );
    const requestHeaders = {
      ...signed,
      ...options.headers,
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
    };
    let response: Response;
    countTrip(options.method, url);
    try {
      response = await egressFetch(
        url,
        {
          method: options.method,
          headers: requestHeaders,
          ...(options.body === undefined ? {} : { body }),
          timeoutMs: this.deps.timeoutMs,
          maxBodyBytes: options.maxBodyBytes ?? JSON_MAX_BYTES,
        },
        this.deps.egress,
      );
    } catch (err) {
      throw requestFailure(`${options.method} ${url}`, err);
    }
    if (response.status >= 300) throw await errorFrom(response);
    return { status: response.status, headers: response.headers, response, requestHeaders };
  }

  /** Keys an answer may be signed with: the destination's, or at a redirect's endpoint its delegate's. */
  private answerKeys(endpoint: string | undefined): KeyLookup {
    const { directory, delegates } = this.deps;
    if (endpoint === undefined || delegates === undefined) return directory.keyLookup;
    return async (domain, keyId, at) =>
      directory.heldKey(domain, keyId, at) ??
      (await delegates.answerKey(domain, keyId, endpoint, at)) ??
      directory.keyLookup(domain, keyId, at);
  }

  /** A JSON call; when `signedResponse`, the answer must be signed by the destination. */
  async json<S extends z.ZodType>(options: CallOptions, schema: S): Promise<z.infer<S>> {
    const raw = await this.open(options);
    const bytes = await bodyOf(raw.response, `${options.method} ${options.path}`);
    if (options.signedResponse) {
      const headers: HeaderBag = Object.fromEntries(raw.headers);
      const verdict = await verifyResponse(
        { status: raw.status, headers, body: bytes },
        {
          domain: this.deps.keys.domain,
          now: this.deps.nowS(),
          keyLookup: this.answerKeys(options.endpoint),
          maxSkewS: this.deps.clockSkewS,
          requestHeaders: raw.requestHeaders,
          expectedOrigin: options.destination,
        },
      );
      if (!verdict.ok)
        throw new PmtpRequestError(
          verdict.code,
          `response signature: ${verdict.detail}`,
          verdict.code === 'unknown_key',
          raw.status,
        );
    }
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw new PmtpRequestError('malformed_request', 'response is not JSON', false, raw.status);
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success)
      throw new PmtpRequestError(
        'malformed_request',
        `unexpected response shape: ${parsed.error.message.slice(0, 200)}`,
        false,
        raw.status,
      );
    return parsed.data;
  }

  /**
   * GET /.well-known/pmtp/server?domain=D, cached for an hour per endpoint and domain: domains sharing
   * an endpoint may each take another size.
   */
  async serverInfo(domain: string, endpoint?: string): Promise<ServerInfo> {
    const url = `${endpoint ?? (await this.deps.directory.endpointOf(domain))}${PATHS.server}?domain=${encodeURIComponent(domain)}`;
    const hit = this.infos.get(url);
    if (hit && this.deps.nowS() < hit.until) return hit.info;
    const running = this.infoFetches.get(url);
    if (running) return running;
    const task = fetchJson(url, {
      timeoutMs: this.deps.timeoutMs,
      maxBodyBytes: KEY_SET_MAX_BYTES,
      egress: this.deps.egress,
    })
      .then((doc) => {
        const info = serverInfoSchema.parse(doc);
        this.infos.set(url, { info, until: this.deps.nowS() + 3600 });
        return info;
      })
      .finally(() => this.infoFetches.delete(url));
    this.infoFetches.set(url, task);
    return task;
  }
}

/** Unsigned GET of a JSON document (key sets, server info). */
export async function fetchJson(
  url: string,
  limits: { timeoutMs: number; maxBodyBytes: number; egress: EgressPolicy },
): Promise<unknown> {
  let response: Response;
  countTrip('GET', url);
  try {
    response = await egressFetch(url, limits, limits.egress);
  } catch (err) {
    throw requestFailure(`GET ${url}`, err);
  }
  if (!response.ok) throw await errorFrom(response);
  const bytes = await bodyOf(response, `GET ${url}`);
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new PmtpRequestError('malformed_request', `GET ${url}: not JSON`, false, response.status);
  }
}

/** A refused destination or an oversized answer keeps its own code; anything else is a connection failure. */
function requestFailure(what: string, err: unknown): PmtpRequestError {
  const detail = `${what}: ${err instanceof Error ? err.message : String(err)}`;
  if (err instanceof MailbridgeError && (err.code === 'egress_refused' || err.code === 'response_too_large'))
    return new PmtpRequestError(err.code, detail, false);
  return new PmtpRequestError('connection_failed', detail, true);
}

async function bodyOf(response: Response, what: string): Promise<Buffer> {
  try {
    return Buffer.from(await response.arrayBuffer());
  } catch (err) {
    throw requestFailure(what, err);
  }
}

async function errorFrom(response: Response): Promise<PmtpRequestError> {
  const text = await response.text().catch(() => '');
  const retryAfter = Number(response.headers.get('retry-after'));
  const retryAfterS = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined;
  let parsed;
  try {
    parsed = errorBodySchema.safeParse(JSON.parse(text));
  } catch {
    parsed = undefined;
  }
  const transient = response.status >= 500 || response.status === 429;
  if (parsed?.success) {
    const e = parsed.data.error;
    // a peer's code outside our table is kept in the text, never passed on as a code of ours
    if (isStatusCode(e.code))
      return new PmtpRequestError(e.code, e.message, e.retryable || transient, response.status, retryAfterS);
    const retryable = e.retryable || transient;
    return new PmtpRequestError(
      retryable ? 'remote_transient' : 'remote_permanent',
      `${e.code}: ${e.message}`,
      retryable,
      response.status,
      retryAfterS,
    );
  }
  return new PmtpRequestError(
    transient ? 'remote_transient' : 'remote_permanent',
    `HTTP ${response.status}`,
    transient,
    response.status,
    retryAfterS,
  );
}
