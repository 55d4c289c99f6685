// The PMTP/1 fastify application: raw-body parsing (signatures cover the exact octets), the
// error handler that turns every failure into a typed body and never lets input crash the
// process, the auth stage for /pmtp/v1/, and the route groups.
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { isStatusCode } from '../../codes.js';
import { isRedisFault } from '../../queue/redis-faults.js';
import type { PmtpContext } from '../pmtp-context.js';
import { type AckRouteDeps, registerAckRoutes } from './ack-routes.js';
import { refuseDelegateKeys } from './domain-only.js';
import { type NodeForwardDeps, nodeForwardHook } from './node-forward.js';
import { type NoticeRouteDeps, registerNoticeRoutes } from './notice-routes.js';
import { type PullRouteDeps, registerPullRoutes } from './pull-routes.js';
import { sendError } from './replies.js';
import { type RequestAuthDeps, requestAuthHook } from './request-auth.js';
import { registerWellKnownRoutes, type WellKnownDeps } from './well-known-routes.js';

/** Retry-After on a 503 for our own Redis fault: a restart or a Sentinel failover takes seconds */
const redisRetryAfterS = 2;

/** The parts of the PMTP context this file uses. */
export type AppDeps = Pick<PmtpContext, 'config' | 'log'> &
  WellKnownDeps &
  RequestAuthDeps &
  NoticeRouteDeps &
  PullRouteDeps &
  AckRouteDeps &
  NodeForwardDeps;

export interface PmtpAppOptions {
  /** Extra fastify options (https, http2), from listen.ts. */
  readonly server?: Record<string, unknown>;
}

export function buildPmtpApp(rt: AppDeps, options: PmtpAppOptions = {}): FastifyInstance {
  const fastifyOptions: FastifyServerOptions = {
    logger: false,
    bodyLimit: rt.config.pmtp.max_body_bytes,
    // query strings and ids are short; anything longer is an attack or a bug
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
    ...options.server,
  };
  const app = Fastify(fastifyOptions) as unknown as FastifyInstance;
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  app.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, request, reply) => {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || err.statusCode === 413)
      return sendError(reply, 'payload_too_large', err.message);
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500)
      return sendError(reply, 'malformed_request', err.message, err.statusCode === 415 ? 400 : err.statusCode);
    // our Redis is down or read-only for a moment: the peer should come back in seconds, not on its schedule
    if (isRedisFault(err)) {
      rt.log.warn({ err: err.message, url: request.url }, 'pmtp request deferred: Redis unavailable');
      return sendError(reply.header('retry-after', String(redisRetryAfterS)), 'queue_unavailable', err.message);
    }
    rt.log.error({ err, url: request.url }, 'pmtp request failed');
    return sendError(reply, isStatusCode(err.code ?? '') ? (err.code as 'internal_error') : 'internal_error');
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, 'message_not_found', `no route ${request.method} ${request.url.split('?')[0]}`, 404),
  );

  registerWellKnownRoutes(app, rt);
  app.register(async (signed) => {
    // a pull of a copy on another node's disk goes there before any check: that node makes them
    signed.addHook('onRequest', nodeForwardHook(rt));
    signed.addHook('preHandler', requestAuthHook(rt));
    signed.register(async (domainOnly) => {
      domainOnly.addHook('preHandler', refuseDelegateKeys);
      registerNoticeRoutes(domainOnly, rt);
    });
    registerPullRoutes(signed, rt);
    registerAckRoutes(signed, rt);
  });
  return app;
}
