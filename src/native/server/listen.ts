// Starts the PMTP/1 listener from `pmtp.listen`: HTTPS with the configured certificate serving
// HTTP/2 and HTTP/1.1, or plain HTTP/1.1 only when enabled AND bound to loopback (tests, staging).
import { readFile } from 'node:fs/promises';
import type { Server as TlsServer } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { type Config, isLoopback } from '../../config/schema.js';
import type { PmtpContext } from '../pmtp-context.js';
import { type AppDeps, buildPmtpApp } from './app.js';

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

export async function serverOptionsFor(config: Pick<Config, 'pmtp'>): Promise<Record<string, unknown>> {
  const { tls, plain_http: plain, host } = config.pmtp.listen;
  if (tls) {
    const [key, cert] = await Promise.all([readFile(tls.key), readFile(tls.cert)]);
    return { http2: true, https: { allowHTTP1: true, key, cert, minVersion: 'TLSv1.2' } };
  }
  if (plain && isLoopback(host)) return {};
  throw new Error('pmtp.listen needs tls (key, cert), or plain_http on a loopback address');
}

export async function startPmtpListener(rt: ListenerDeps): Promise<PmtpListener> {
  const app = buildPmtpApp(rt, { server: await serverOptionsFor(rt.config) });
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
