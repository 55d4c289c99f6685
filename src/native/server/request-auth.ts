// The authentication stage of every /pmtp/v1/ request, in order: per-address budget (IPv6 by /64), RFC 9421
// signature over the raw body against the URL built from OUR public endpoint (never Host),
// nonce replay, per-origin-domain budget. Failures answer 401/400/429 with typed bodies.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PmtpContext } from '../pmtp-context.js';
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

export function requestAuthHook(rt: RequestAuthDeps) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const perIp = await rt.rate.hit(`ip:${clientGroup(request.ip)}`, rt.nowMs());
    if (!perIp.allowed) return sendError(reply.header('retry-after', String(perIp.retryAfterS)), 'rate_limited');
    const verdict = await verifyRequest(
      {
        method: request.method,
        url: `${rt.endpoint()}${request.url}`,
        headers: request.headers as HeaderBag,
        body: rawBody(request),
      },
      { domain: rt.domain, now: rt.nowS(), keyLookup: rt.directory.keyLookup, maxSkewS: rt.config.pmtp.clock_skew_s },
    );
    if (!verdict.ok) {
      request.log.info({ code: verdict.code, detail: verdict.detail }, 'pmtp request refused');
      return sendError(reply, verdict.code, verdict.detail);
    }
    if (!(await rt.nonces.claim(verdict.origin, verdict.nonce, verdict.expires))) {
      return sendError(reply, 'nonce_replayed', `nonce ${verdict.nonce} was already used`);
    }
    const perDomain = await rt.rate.hit(`domain:${verdict.origin}`, rt.nowMs());
    if (!perDomain.allowed)
      return sendError(reply.header('retry-after', String(perDomain.retryAfterS)), 'rate_limited');
    request.pmtpOrigin = verdict.origin;
    return undefined;
  };
}
