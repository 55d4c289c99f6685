// Shared-nothing fleets: a pull (or part pull) of a copy another node's disk holds is handed, as
// received, to that node's internal listener, marked with the fleet's HMAC hop; the owner checks
// the peer's signature and nonce itself, so this node does neither. Only pulls of ids our outbox
// index places on a registered node go on, each once and within node.forward_timeout_s.
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { HOP_HEADER, signHop, verifyHop } from '../../net/node-hop.js';
import type { PmtpContext } from '../pmtp-context.js';
import { sendError } from './replies.js';

/** The parts of the PMTP context this file uses. */
export type NodeForwardDeps = Pick<PmtpContext, 'config' | 'fleet' | 'log' | 'nowS' | 'outbox'>;

declare module 'fastify' {
  interface FastifyRequest {
    /** The peer's address when a fleet node handed us its request; else unset (use request.ip). */
    pmtpClientIp?: string;
  }
}

/** Pull routes whose bytes sit on one node's disk. */
const pullRoutes = new Set(['/pmtp/v1/messages/:id', '/pmtp/v1/messages/:id/parts/:index']);

/** A node down for a restart is back in seconds; one whose disk must be adopted takes minutes either way. */
const ownerDownRetryS = 10;

/** Headers that describe one connection, not the request: never passed on. */
const hopByHop = new Set(['host', 'connection', 'keep-alive', 'transfer-encoding', 'te', 'upgrade', HOP_HEADER]);

export function nodeForwardHook(rt: NodeForwardDeps) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const fleet = rt.fleet;
    const self = rt.config.node;
    if (!fleet || !self) return undefined;
    const mark = request.headers[HOP_HEADER];
    if (typeof mark === 'string') {
      const hop = verifyHop(fleet.secret, mark, request, rt.nowS());
      // a forged or stale mark is refused: it would let a client pick the address our budgets charge
      if (!hop) return sendError(reply, 'malformed_request', `invalid ${HOP_HEADER}`, 400);
      request.pmtpClientIp = hop.clientIp;
      return undefined; // handed to us once: served here, whatever the index says
    }
    if (request.method !== 'GET' || !pullRoutes.has(request.routeOptions.url ?? '')) return undefined;
    const { id } = request.params as { id: string };
    const owner = (await rt.outbox.current(id))?.node;
    if (owner === undefined || owner === self.id) return undefined;
    const target = await fleet.nodes.urlOf(owner);
    if (target === undefined) return sendError(reply, 'spool_unavailable', `node ${owner} is not registered`);
    return forward(rt, request, reply, `${target}${request.url}`, owner);
  };
}

async function forward(
  rt: NodeForwardDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  url: string,
  owner: string,
): Promise<FastifyReply> {
  const self = rt.config.node!;
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (hopByHop.has(name) || value === undefined) continue;
    headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  headers.set('accept-encoding', 'identity');
  headers.set(
    HOP_HEADER,
    signHop(rt.fleet!.secret, { from: self.id, clientIp: request.ip, method: 'GET', url: request.url }, rt.nowS()),
  );
  const aborter = new AbortController();
  const timer = setTimeout(() => aborter.abort(), self.forward_timeout_s * 1000);
  let response: Response;
  try {
    // the URL comes from our own fleet's roll, never from a peer: no egress policy applies
    response = await fetch(url, { headers, signal: aborter.signal, redirect: 'manual' });
  } catch (err) {
    clearTimeout(timer);
    rt.log.warn({ owner, err: (err as Error).message }, 'pmtp pull not handed to its node');
    return sendError(
      reply.header('retry-after', String(ownerDownRetryS)),
      'spool_unavailable',
      `node ${owner} holds this copy`,
    );
  }
  reply.code(response.status);
  for (const [name, value] of response.headers) if (!hopByHop.has(name)) reply.header(name, value);
  if (!response.body) {
    clearTimeout(timer);
    return reply.send(Buffer.alloc(0));
  }
  const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
  body.once('close', () => clearTimeout(timer));
  return reply.send(body);
}
