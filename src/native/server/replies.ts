// How the PMTP/1 server answers: typed error bodies from the one status table, and decision
// bodies serialised once and signed (bound to the request's signature) before they are sent.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody, type StatusCode, statusOf } from '../../codes.js';
import type { PmtpContext } from '../pmtp-context.js';
import type { HeaderBag } from '../protocol/http-signature-base.js';
import { signResponse } from '../protocol/request-signature.js';

/** The parts of the PMTP context this file uses. */
export type ReplyDeps = Pick<PmtpContext, 'keys' | 'nowS'>;

export function sendError(reply: FastifyReply, code: StatusCode, detail?: string, httpStatus?: number): FastifyReply {
  return reply
    .code(httpStatus ?? statusOf(code).http)
    .header('content-type', 'application/json; charset=utf-8')
    .send(JSON.stringify(errorBody(code, detail)));
}

/** Serialises `body` once, signs exactly those bytes for the requesting domain, sends them. */
export function sendSigned(
  rt: ReplyDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  body: unknown,
  status = 200,
): FastifyReply {
  const bytes = Buffer.from(JSON.stringify(body), 'utf8');
  const headers = signResponse(
    { status, requestHeaders: request.headers as HeaderBag },
    { signer: rt.keys.signer, destination: request.pmtpOrigin ?? '', body: bytes, created: rt.nowS() },
  );
  return reply.code(status).headers(headers).header('content-type', 'application/json; charset=utf-8').send(bytes);
}
