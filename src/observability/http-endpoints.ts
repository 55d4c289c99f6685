// http-endpoints: the operator's HTTP port (metrics.host:metrics.port): /metrics for Prometheus,
// /healthz (the process answers) and /readyz (Redis and spool usable; 503 naming what failed).
// Plain HTTP on loopback by default; it carries no mail and no secrets.

import Fastify, { type FastifyInstance } from 'fastify';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Metrics } from './metrics.js';
import { type ReadinessCheck, runChecks } from './readiness.js';

export interface HttpEndpointsDeps {
  readonly metrics: Pick<Metrics, 'registry'>;
  readonly checks: readonly ReadinessCheck[];
  readonly log: Logger;
  /** extra read-only GET pages (the queue view), served only when configured */
  readonly pages?: readonly Page[];
}

/** A GET page the assembler adds: its query in, a status, type and body out. */
export interface Page {
  readonly path: string;
  render(
    query: Readonly<Record<string, string | undefined>>,
  ): Promise<{ status: number; contentType: string; body: string }>;
}

export interface HttpEndpoints {
  /** `host:port` actually bound (port 0 in config picks a free one) */
  readonly address: string;
  close(): Promise<void>;
}

/** The routes alone, for `inject()` tests and for embedding. */
export function buildHttpEndpoints(deps: HttpEndpointsDeps): FastifyInstance {
  // scrapes every few seconds would drown the log; failures are logged below instead
  const app = Fastify({ logger: false });
  app.get('/healthz', async () => ({ alive: true }));
  app.get('/readyz', async (_request, reply) => {
    const { ok, checks } = await runChecks(deps.checks);
    if (ok) return { ready: true, checks };
    const failed = Object.keys(checks).filter((name) => checks[name] !== 'ok');
    deps.log.warn({ checks }, 'not ready');
    return reply.code(503).send({ ready: false, failed, checks });
  });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
  for (const page of deps.pages ?? [])
    app.get(page.path, async (request, reply) => {
      const { status, contentType, body } = await page.render(request.query as Record<string, string | undefined>);
      // the page shows addresses and replies: never framed or cached by anything in between
      return reply
        .code(status)
        .header('content-type', contentType)
        .header('cache-control', 'no-store')
        .header('x-frame-options', 'DENY')
        .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
        .send(body);
    });
  return app;
}

export async function startHttpEndpoints(
  settings: Pick<Config['metrics'], 'host' | 'port'> & Partial<Config['metrics']>,
  deps: HttpEndpointsDeps,
): Promise<HttpEndpoints> {
  const app = buildHttpEndpoints(deps);
  await app.listen({ host: settings.host, port: settings.port });
  const bound = app.server.address();
  const port = typeof bound === 'object' && bound ? bound.port : settings.port;
  deps.log.info({ host: settings.host, port }, 'metrics and health endpoints ready');
  const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  return { address: `${host}:${port}`, close: () => app.close() };
}
