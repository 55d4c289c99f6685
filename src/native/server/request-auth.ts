// The authentication stage of every /pmtp/v1/ request, in order: the client address group's budget for
// failures (IPv6 by /64), RFC 9421 signature over the raw body against the URL built from OUR public
// endpoint (never Host), with key fetches for unknown origins on their own per-group budget, then nonce
// replay. Failures answer 401/400/429 with typed bodies; the origin's own budget is spent by each route.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PmtpContext } from '../pmtp-context.js';
import type { KeyLookup } from '../protocol/ed25519.js';
import type { HeaderBag } from '../protocol/http-signature-base.js';
import { verifyRequest } from '../protocol/request-signature.js';
import { clientGroup } from '../state/rate-limiter.js';
import { sendError } from './replies.js';

/** The parts of the PMTP context this file uses. */
export type RequestAuthDeps = Pick<
  PmtpContext,
  'config' | 'directory' | 'domain' | 'endpoint' | 'nonces' | 'nowMs' | 'nowS' | 'rate'
>;

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified signing domain of a /pmtp/v1/ request. */
    pmtpOrigin?: string;
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

export function requestAuthHook(rt: RequestAuthDeps) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const group = clientGroup(request.ip);
    // authenticated peers never pay here: a group that keeps failing authentication is cut off
    const standing = await rt.rate.check('unauthenticated', group, rt.nowMs());
    if (!standing.allowed) return sendRateLimited(reply, standing, 'too many unauthenticated requests');
    const fetches: { refused?: { retryAfterS: number } } = {};
    const keyLookup: KeyLookup = async (domain, keyId, at) => {
      if (!rt.directory.answersFromMemory(domain)) {
        const spent = await rt.rate.spend('key-fetch', group, rt.nowMs());
        if (!spent.allowed) {
          fetches.refused = spent;
          return undefined;
        }
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
      return sendError(reply, verdict.code, verdict.detail);
    }
    if (!(await rt.nonces.claim(verdict.origin, verdict.nonce, verdict.expires))) {
      await rt.rate.spend('unauthenticated', group, rt.nowMs());
      return sendError(reply, 'nonce_replayed', `nonce ${verdict.nonce} was already used`);
    }
    request.pmtpOrigin = verdict.origin;
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
