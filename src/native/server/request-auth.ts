// The authentication stage of every /pmtp/v1/ request, in order: the client address group's failure budget
// (IPv6 by /64), the RFC 9421 signature over the raw body against OUR public endpoint (never Host), key
// fetches for unknown origins on their own per-group budget, nonce replay, and a delegate key's live grant
// (§13.5). Failures answer typed 401/400/403/429 bodies, or 502/503 when the claimed origin's keys could
// not be had at all (§9.1 step 7); the origin's own budget is spent by each route.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { FAILURE_TTL_S, keySourceFailure } from '../keys/peer-directory.js';
import type { PmtpContext } from '../pmtp-context.js';
import type { Delegation } from '../protocol/delegation.js';
import type { KeyLookup } from '../protocol/ed25519.js';
import type { HeaderBag } from '../protocol/http-signature-base.js';
import { verifyRequest } from '../protocol/request-signature.js';
import { clientGroup } from '../state/rate-limiter.js';
import { grantLive } from './delegate-scope.js';
import { sendError } from './replies.js';

/** The parts of the PMTP context this file uses. */
export type RequestAuthDeps = Pick<
  PmtpContext,
  'config' | 'delegates' | 'directory' | 'domain' | 'endpoint' | 'nonces' | 'nowMs' | 'nowS' | 'rate'
>;

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified signing domain of a /pmtp/v1/ request. */
    pmtpOrigin?: string;
    /** Set when a delegate signed with its own key: the grant that key holds (§13.5), expired or not. */
    pmtpDelegate?: Delegation;
  }
}

export function rawBody(request: FastifyRequest): Buffer {
  return Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
}

/** JSON of a verified raw body, or undefined when it is not JSON. */
export function parseJsonBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Answers 429 rate_limited with the budget's Retry-After. */
export function sendRateLimited(reply: FastifyReply, verdict: { retryAfterS: number }, detail?: string) {
  return sendError(reply.header('retry-after', String(verdict.retryAfterS)), 'rate_limited', detail);
}

/**
 * No key set for the claimed origin: a lasting failure answers 502 with its own code, not retryable; a
 * transient one 503 `key_fetch_failed` with Retry-After the time the failure is remembered.
 */
function sendKeySourceFailure(reply: FastifyReply, err: unknown): FastifyReply {
  const code = keySourceFailure(err);
  // a transient failure's detail is about our network, not the peer's records: keep it to ourselves
  if (code === 'key_fetch_failed') return sendError(reply.header('retry-after', String(FAILURE_TTL_S)), code);
  return sendError(reply, code, err instanceof Error ? err.message : undefined);
}

export function requestAuthHook(rt: RequestAuthDeps) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    // a request a fleet node handed us counts against the peer that sent it (node-forward.ts)
    const group = clientGroup(request.pmtpClientIp ?? request.ip);
    // authenticated peers never pay here: a group that keeps failing authentication is cut off
    const standing = await rt.rate.check('unauthenticated', group, rt.nowMs());
    if (!standing.allowed) return sendRateLimited(reply, standing, 'too many unauthenticated requests');
    const fetches: { refused?: { retryAfterS: number }; failed?: unknown } = {};
    let grant: Delegation | undefined;
    const keyLookup: KeyLookup = async (domain, keyId, at) => {
      // the origin's own cached key needs no Redis look-up for a grant
      const held = rt.directory.heldKey(domain, keyId, at);
      if (held) return held;
      // a delegate key is known locally from a redirect; its expiry is judged after the signature
      grant = await rt.delegates.find(domain, keyId);
      if (grant) return Buffer.from(grant.delegate_key, 'base64url');
      if (!rt.directory.answersFromMemory(domain)) {
        const spent = await rt.rate.spend('key-fetch', group, rt.nowMs());
        if (!spent.allowed) {
          fetches.refused = spent;
          return undefined;
        }
      }
      try {
        await rt.directory.keySet(domain);
      } catch (err) {
        fetches.failed = err;
        return undefined;
      }
      return rt.directory.keyLookup(domain, keyId, at);
    };
    const verdict = await verifyRequest(
      {
        method: request.method,
        url: `${rt.endpoint()}${request.url}`,
        headers: request.headers as HeaderBag,
        body: rawBody(request),
      },
      {
        domain: rt.domain,
        now: rt.nowS(),
        keyLookup,
        maxSkewS: rt.config.pmtp.clock_skew_s,
        isRevoked: (domain, keyId) => rt.directory.isRevoked(domain, keyId),
      },
    );
    if (fetches.refused) return sendRateLimited(reply, fetches.refused, 'too many key fetches');
    if (!verdict.ok) {
      request.log.info({ code: verdict.code, detail: verdict.detail }, 'pmtp request refused');
      await rt.rate.spend('unauthenticated', group, rt.nowMs());
      if (verdict.code === 'unknown_key' && fetches.failed !== undefined)
        return sendKeySourceFailure(reply, fetches.failed);
      return sendError(reply, verdict.code, verdict.detail);
    }
    if (!(await rt.nonces.claim(verdict.origin, verdict.nonce, verdict.expires))) {
      await rt.rate.spend('unauthenticated', group, rt.nowMs());
      return sendError(reply, 'nonce_replayed', `nonce ${verdict.nonce} was already used`);
    }
    request.pmtpOrigin = verdict.origin;
    if (grant) {
      // an expired grant authorises nothing; its scope is each route's to check
      const live = grantLive(grant, rt.nowS());
      if (!live.ok) return sendError(reply, live.code, live.detail);
      request.pmtpDelegate = grant;
    }
    return undefined;
  };
}

/**
 * Spends the authenticated origin's budget: `weight` is the recipients a notice batch names, 1 for
 * other requests. Pulls and acks of mail we notified the requester of are never charged.
 */
export async function spendPeerBudget(
  rt: Pick<PmtpContext, 'nowMs' | 'rate'>,
  request: FastifyRequest,
  reply: FastifyReply,
  weight = 1,
): Promise<FastifyReply | undefined> {
  const spent = await rt.rate.spend('peer', request.pmtpOrigin ?? '', rt.nowMs(), weight);
  return spent.allowed ? undefined : sendRateLimited(reply, spent, `budget of ${request.pmtpOrigin} spent`);
}
