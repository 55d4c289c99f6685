// Starts the PMTP/1 listener from `pmtp.listen`: HTTPS with the configured certificate serving
// HTTP/2 and HTTP/1.1, or plain HTTP/1.1 only when enabled AND bound to loopback (tests, staging).
// Each domain's certificate is chosen by SNI; with many domains each has its own app behind one socket.
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createSecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { Server as TlsServer } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { type Config, isLoopback } from '../../config/schema.js';
import { DomainCertificates } from '../../net/domain-certificates.js';
import type { PmtpContext } from '../pmtp-context.js';
import { type AppDeps, buildPmtpApp } from './app.js';
import { pickDomain } from './domain-dispatch.js';

/** The parts of the PMTP context this file uses. */
export type ListenerDeps = Pick<PmtpContext, 'config'> & AppDeps;

export interface PmtpListener {
  readonly app: FastifyInstance;
  /** e.g. https://127.0.0.1:8443 */
  readonly url: string;
  /** New TLS handshakes use this certificate; open connections keep theirs (SIGHUP). */
  updateSecureContext(material: { key: Buffer; cert: Buffer }): void;
  close(): Promise<void>;
}

/** `certificates`: the domains' own, shared with the SMTP listeners so one SIGHUP renews both. */
export async function serverOptionsFor(
  config: Pick<Config, 'domains' | 'pmtp'>,
  certificates?: DomainCertificates,
): Promise<Record<string, unknown>> {
  const { tls, plain_http: plain, host } = config.pmtp.listen;
  if (tls) {
    const [key, cert] = await Promise.all([readFile(tls.key), readFile(tls.cert)]);
    const { sni } = certificates ?? (await DomainCertificates.load(config));
    return { http2: true, https: { allowHTTP1: true, key, cert, minVersion: 'TLSv1.2', SNICallback: sni } };
  }
  if (plain && isLoopback(host)) return {};
  throw new Error('pmtp.listen needs tls (key, cert), or plain_http on a loopback address');
}

type Handler = (request: IncomingMessage | Http2ServerRequest, response: ServerResponse | Http2ServerResponse) => void;

/**
 * `others`: the added domains (domains.settings.<d>.pmtp), each answered by its own app with its
 * own keys and endpoint; requests are handed to one by domain-dispatch.ts.
 */
export async function startPmtpListener(
  rt: ListenerDeps,
  others: ReadonlyMap<string, AppDeps> = new Map(),
  certificates?: DomainCertificates,
): Promise<PmtpListener> {
  const options = await serverOptionsFor(rt.config, certificates);
  const app = others.size === 0 ? buildPmtpApp(rt, { server: options }) : await dispatchingApp(rt, others, options);
  const { host, port, tls } = rt.config.pmtp.listen;
  const address = await app.listen({ host, port });
  const bound = new URL(address);
  return {
    app,
    url: `${tls ? 'https' : 'http'}://${bound.host}`,
    // plain HTTP (loopback staging) has no secure context to replace
    updateSecureContext: (material) => (app.server as unknown as Partial<TlsServer>).setSecureContext?.(material),
    close: async () => {
      // requests under way get a moment; a peer's connection that never goes idle must not hold shutdown
      const force = setTimeout(
        () => (app.server as { closeAllConnections?: () => void }).closeAllConnections?.(),
        3000,
      );
      try {
        await app.close();
      } finally {
        clearTimeout(force);
      }
    },
  };
}

/**
 * One app per domain behind one server: the default domain's app owns (and listens on) the real
 * server, whose requests go to the app `pickDomain` chooses; the others never listen.
 */
async function dispatchingApp(
  rt: ListenerDeps,
  others: ReadonlyMap<string, AppDeps>,
  options: Record<string, unknown>,
): Promise<FastifyInstance> {
  const targets = new Map<string, { endpoint: () => string; handle?: Handler }>();
  const apps: FastifyInstance[] = [];
  targets.set(rt.domain, { endpoint: rt.endpoint });
  for (const [domain, deps] of others) {
    const target: { endpoint: () => string; handle?: Handler } = { endpoint: deps.endpoint };
    targets.set(domain, target);
    const app = buildPmtpApp(deps, {
      server: {
        ...options,
        serverFactory: (handler: Handler) => {
          target.handle = handler;
          // never listens: fastify only needs a server object to hang its hooks on
          return createHttpServer();
        },
      },
    });
    await app.ready();
    apps.push(app);
  }
  const https = options.https as Record<string, unknown> | undefined;
  const primary = buildPmtpApp(rt, {
    server: {
      ...options,
      serverFactory: (handler: Handler) => {
        targets.get(rt.domain)!.handle = handler;
        const dispatch: Handler = (request, response) => pickDomain(targets, request).handle!(request, response);
        return https ? createSecureServer(https, dispatch) : createHttpServer(dispatch);
      },
    },
  });
  // the others' onClose hooks run with the default domain's
  primary.addHook('onClose', async () => void (await Promise.all(apps.map((app) => app.close()))));
  return primary;
}
