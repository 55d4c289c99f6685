// The HTTP surface of PMTP/1: endpoint paths, the server info document and the error body.
// Paths are fixed under the endpoint origin that DNS (or static config) gives for a domain.
import { z } from 'zod';
import { VIEWS } from './message-views.js';
import { positiveInt } from './protocol-fields.js';

export const PATHS = {
  keys: '/.well-known/pmtp/keys',
  server: '/.well-known/pmtp/server',
  /** the trust anchor (§8.6), served under https://<domain>/; the gateway offers its own copy */
  anchor: '/.well-known/pmtp/endpoint',
  notices: '/pmtp/v1/notices',
  acks: '/pmtp/v1/acks',
  notice: (id: string) => `/pmtp/v1/notices/${id}`,
  message: (id: string) => `/pmtp/v1/messages/${id}`,
  part: (id: string, index: number) => `/pmtp/v1/messages/${id}/parts/${index}`,
  status: (cookie: string) => `/pmtp/v1/status/${cookie}`,
} as const;

/** Media type of framed message streams (views headers, text, full). */
export const MESSAGE_STREAM_TYPE = 'application/pmtp-message';

/** Key set URL: one endpoint may serve several domains, so the domain is a query parameter. */
export function keysUrl(endpoint: string, domain: string): string {
  return `${endpoint}${PATHS.keys}?domain=${encodeURIComponent(domain)}`;
}

/** The URL a notice's `fetch` must hold: the message path under the origin's own endpoint. */
export function fetchUrl(endpoint: string, id: string): string {
  return `${endpoint}${PATHS.message(id)}`;
}

/** GET /.well-known/pmtp/server: what a sender must know before it sends. */
export const serverInfoSchema = z.object({
  v: z.literal(1),
  protocol: z.literal('PMTP/1'),
  max_batch: z.number().int().min(1).max(1000),
  max_recipients: z.number().int().min(1).max(1000),
  /** Most recipients one batch may name in all; absent: max_recipients (the smallest a server may allow). */
  max_batch_recipients: z.number().int().min(1).optional(),
  max_message_bytes: positiveInt,
  max_pow_bits: z.number().int().min(0).max(40),
  views: z.array(z.enum(VIEWS)).min(1),
});
export type ServerInfo = z.infer<typeof serverInfoSchema>;

export const errorSchema = z.object({
  code: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/),
  message: z.string().max(1000),
  retryable: z.boolean(),
});
/** Every non-2xx PMTP/1 response body. */
export const errorBodySchema = z.object({ error: errorSchema });
export type ErrorBody = z.infer<typeof errorBodySchema>;
