// The routes only a domain's own keys may use (notices, status polls, withdrawals): a request signed
// with a delegate key, which holds one recipient's pulls and acks and nothing more, is refused 403.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from './replies.js';

export async function refuseDelegateKeys(request: FastifyRequest, reply: FastifyReply) {
  if (!request.pmtpDelegate) return undefined;
  return sendError(reply, 'delegation_scope', 'a delegate key may only pull and ack for its recipient');
}
