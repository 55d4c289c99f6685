// Unsigned discovery documents: our self-signed key set (GET /.well-known/pmtp/keys?domain=D), the
// server information a sender reads before batching (max batch, limits, views), and the trust-anchor
// document (§8.6) to serve, or copy, at https://<domain>/.well-known/pmtp/endpoint.
import type { FastifyInstance } from 'fastify';
import type { PmtpContext } from '../pmtp-context.js';
import { PATHS, type ServerInfo } from '../protocol/endpoints.js';
import { VIEWS } from '../protocol/message-views.js';
import { MAX_RECIPIENTS_PER_NOTICE } from '../protocol/notice.js';
import { sendError } from './replies.js';

/** The parts of the PMTP context this file uses. */
export type WellKnownDeps = Pick<PmtpContext, 'config' | 'domain' | 'endpoint' | 'keys' | 'nowS' | 'policy'>;

export function serverInfo(rt: WellKnownDeps): ServerInfo {
  return {
    v: 1,
    protocol: 'PMTP/1',
    max_batch: rt.config.pmtp.max_batch,
    max_recipients: MAX_RECIPIENTS_PER_NOTICE,
    max_batch_recipients: rt.config.pmtp.max_batch_recipients,
    max_message_bytes: rt.policy.ownSizeLimit(rt.domain) ?? rt.config.limits.message_size_bytes,
    // the most we ever ask: a recipient's own difficulty may exceed the default
    max_pow_bits: Math.max(
      1,
      rt.policy.firstContactFor(rt.domain).pow_bits,
      ...rt.policy.firstContactFor(rt.domain).users.map((u) => u.pow_bits ?? 0),
    ),
    views: [...VIEWS],
  };
}

export function registerWellKnownRoutes(app: FastifyInstance, rt: WellKnownDeps): void {
  app.get(PATHS.keys, async (request, reply) => {
    const { domain } = request.query as { domain?: string };
    if (domain !== undefined && domain !== rt.domain)
      return sendError(reply, 'message_not_found', `no keys for ${domain} here`);
    return reply.header('cache-control', 'max-age=3600').send(rt.keys.keySet(rt.nowS()));
  });
  app.get(PATHS.server, async (_request, reply) => reply.header('cache-control', 'max-age=3600').send(serverInfo(rt)));
  // every key that signs our key set now: during a rotation both, so peers may follow either
  app.get(PATHS.anchor, async (_request, reply) =>
    reply.header('cache-control', 'max-age=3600').send({
      v: 1,
      domain: rt.domain,
      endpoint: rt.endpoint(),
      key_ids: rt.keys.keySet(rt.nowS()).keys.map((k) => k.key_id),
    }),
  );
}
