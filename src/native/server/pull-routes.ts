// Origin-side pull: GET /pmtp/v1/messages/{id}?view=&version= streams the view from the spool
// (head frame, part frames, end frame; JSON for hash/signers) to notified domains only, and
// GET …/parts/{index} serves one part's raw octets with Range. A full pull marks accepted recipients fetched.
// A pull of mail we notified the requester of spends no budget: only refused pulls are charged.
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { StatusCode } from '../../codes.js';
import type { PmtpContext } from '../pmtp-context.js';
import { sameAddress } from '../protocol/address.js';
import { MESSAGE_STREAM_TYPE } from '../protocol/endpoints.js';
import { partOffsets } from '../protocol/message-format.js';
import { PART_TRAILER, partFrameHeader, STREAM_END, streamPrefix } from '../protocol/message-framing.js';
import {
  hashView,
  isStreamView,
  partsForView,
  type StreamView,
  signersView,
  VIEWS,
  type View,
} from '../protocol/message-views.js';
import { checkDelegatePull, type DelegateScopeDeps } from './delegate-scope.js';
import { grantPull, type PullAccessDeps, type PullGrant, refuse } from './pull-access.js';
import { sendError } from './replies.js';
import { spendPeerBudget } from './request-auth.js';

/** The parts of the PMTP context this file uses. */
export type PullRouteDeps = Pick<PmtpContext, 'log' | 'metrics' | 'nowMs' | 'nowS' | 'rate' | 'spool' | 'status'> &
  PullAccessDeps &
  DelegateScopeDeps;

export function registerPullRoutes(app: FastifyInstance, rt: PullRouteDeps): void {
  app.get('/pmtp/v1/messages/:id', async (request, reply) => {
    const { id } = request.params as { id: string };
    const { view = 'full', version } = request.query as { view?: string; version?: string };
    const grant = await grantPull(rt, request.pmtpOrigin ?? '', id, version);
    const scope = 'entry' in grant ? await delegateScope(rt, request, id, grant) : undefined;
    rt.metrics?.pull('served', 'entry' in grant && !scope ? 'ok' : 'error');
    if (!('entry' in grant)) return (await spendPeerBudget(rt, request, reply)) ?? refuse(reply, grant);
    if (scope) return (await spendPeerBudget(rt, request, reply)) ?? refuse(reply, scope);
    if (!(VIEWS as readonly string[]).includes(view))
      return sendError(reply, 'view_invalid', `views: ${VIEWS.join(', ')}`);
    const { manifest, digest, signatures } = grant.meta.pmtp;
    const chosen = view as View;
    if (!isStreamView(chosen)) {
      return reply.send(chosen === 'hash' ? hashView(manifest, digest) : signersView(manifest, digest, signatures));
    }
    const prefix = streamPrefix({ manifest, signatures });
    const indices = partsForView(manifest, chosen);
    const length =
      prefix.length +
      STREAM_END.length +
      indices.reduce(
        (n, i) => n + partFrameHeader(i, manifest.parts[i]?.length ?? 0).length + (manifest.parts[i]?.length ?? 0) + 1,
        0,
      );
    return reply
      .header('content-type', MESSAGE_STREAM_TYPE)
      .header('content-length', String(length))
      .send(Readable.from(streamView(rt, grant, chosen, request, prefix)));
  });

  app.get('/pmtp/v1/messages/:id/parts/:index', async (request, reply) => {
    const { id, index } = request.params as { id: string; index: string };
    const { version } = request.query as { version?: string };
    const grant = await grantPull(rt, request.pmtpOrigin ?? '', id, version);
    if (!('entry' in grant)) return (await spendPeerBudget(rt, request, reply)) ?? refuse(reply, grant);
    const scope = await delegateScope(rt, request, id, grant);
    if (scope) return (await spendPeerBudget(rt, request, reply)) ?? refuse(reply, scope);
    const i = Number(index);
    const part = /^\d{1,6}$/.test(index) ? grant.meta.pmtp.manifest.parts[i] : undefined;
    if (!part) return sendError(reply, 'message_not_found', `no part ${index}`);
    const offset = partOffsets(grant.meta.pmtp.manifest)[i] ?? 0;
    const range = parseRange(request.headers.range, part.length);
    if (range === 'invalid')
      return sendError(
        reply.header('content-range', `bytes */${part.length}`),
        'malformed_request',
        'unsatisfiable range',
        416,
      );
    const [start, end] = range ?? [0, part.length - 1];
    reply
      .header('content-type', part.type)
      .header('accept-ranges', 'bytes')
      .header('content-length', String(Math.max(0, end - start + 1)));
    if (range) reply.code(206).header('content-range', `bytes ${start}-${end}/${part.length}`);
    if (end < start) return reply.send(Buffer.alloc(0));
    const { stream } = await rt.spool.openBody(grant.entry, { start: offset + start, end: offset + end });
    return reply.send(stream);
  });
}

async function* streamView(
  rt: PullRouteDeps,
  grant: PullGrant,
  view: StreamView,
  request: FastifyRequest,
  prefix: Buffer,
): AsyncGenerator<Buffer> {
  const { manifest, id, version } = grant.meta.pmtp;
  const offsets = partOffsets(manifest);
  yield prefix;
  for (const index of partsForView(manifest, view)) {
    const length = manifest.parts[index]?.length ?? 0;
    yield partFrameHeader(index, length);
    if (length > 0) {
      const start = offsets[index] ?? 0;
      const { stream } = await rt.spool.openBody(grant.entry, { start, end: start + length - 1 });
      for await (const chunk of stream) yield chunk as Buffer;
    }
    yield PART_TRAILER;
  }
  yield STREAM_END;
  if (view === 'full') {
    // only recipients that domain accepted (§10.4): a pull names no recipient, and one still
    // deferred or challenged here was not accepted (its answer comes by poll or re-sent notice).
    // One whose acceptance we have not recorded yet stays behind; its ack implies the fetch.
    // a delegate fetched for its one recipient only
    const delegate = request.pmtpDelegate;
    const fetched = delegate
      ? grant.domain.recipients.filter((r) => sameAddress(r, delegate.recipient))
      : grant.domain.recipients;
    for (const recipient of fetched) await rt.status.apply(id, recipient, 'fetch', rt.nowS(), {}, version);
    rt.log.debug({ id, version, requester: request.pmtpOrigin, delegate: delegate?.recipient }, 'pmtp message pulled');
  }
}

/** One `bytes=a-b`, `bytes=a-` or `bytes=-n` range; undefined when absent. */
/** A delegate's pull outside its grant, as a refusal; undefined for anyone else or in scope. */
async function delegateScope(
  rt: PullRouteDeps,
  request: FastifyRequest,
  id: string,
  grant: PullGrant,
): Promise<{ code: StatusCode; detail: string } | undefined> {
  if (!request.pmtpDelegate) return undefined;
  const verdict = await checkDelegatePull(rt, request.pmtpDelegate, id, grant.domain.recipients);
  return verdict.ok ? undefined : verdict;
}

export function parseRange(header: string | undefined, size: number): [number, number] | 'invalid' | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'invalid';
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  return start > end || start >= size ? 'invalid' : [start, end];
}
