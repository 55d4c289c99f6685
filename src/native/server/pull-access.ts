// Who may pull what, origin side, in the order the spec gives: a domain we never notified (or an
// unknown id) gets 403 not_notified; a superseded version, a withdrawn or expired message 410.
import type { FastifyReply } from 'fastify';
import type { StatusCode } from '../../codes.js';
import type { OutboxRecord } from '../../mail/spool-records.js';
import type { SpoolEntry } from '../../spool/spool.js';
import type { PmtpContext } from '../pmtp-context.js';
import type { OutboxDomain } from '../state/outbox-index.js';
import { sendError } from './replies.js';

/** The parts of the PMTP context this file uses. */
export type PullAccessDeps = Pick<PmtpContext, 'nowS' | 'outbox' | 'spool'>;

export interface PullGrant {
  readonly entry: SpoolEntry;
  readonly meta: OutboxRecord;
  readonly domain: OutboxDomain;
}

export async function grantPull(
  rt: PullAccessDeps,
  requester: string,
  id: string,
  versionParam: string | undefined,
): Promise<PullGrant | { code: StatusCode; detail: string }> {
  const { domain, current } = await rt.outbox.domainAndCurrent(id, requester);
  if (!domain || !current) return { code: 'not_notified', detail: `${requester} was not notified of ${id}` };
  const version = versionParam === undefined ? current.version : Number(versionParam);
  if (!Number.isSafeInteger(version) || version < 1 || version > current.version)
    return { code: 'not_notified', detail: `no version ${versionParam}` };
  // a destination pulling the version it was notified of while the edit's notice is on its way
  // (its record already names the new version) must hear 410, so it waits for that notice
  if (version < current.version) return { code: 'version_superseded', detail: `version ${current.version} is current` };
  if (!domain.notified) return { code: 'not_notified', detail: `${requester} was not notified of ${id}` };
  if (domain.version !== current.version)
    return { code: 'not_notified', detail: `${requester} was not yet notified of version ${version}` };
  if (domain.withdrawn) return { code: 'message_retracted', detail: `withdrawn (${domain.withdrawn})` };
  if (rt.nowS() > current.expires) return { code: 'message_expired', detail: `expired at ${current.expires}` };
  const entry = await rt.spool.read(current.queueId).catch(() => undefined);
  if (entry?.meta.kind !== 'pmtp-outbox') return { code: 'message_expired', detail: 'no longer stored' };
  return { entry, meta: entry.meta, domain };
}

export function refuse(reply: FastifyReply, denied: { code: StatusCode; detail: string }): FastifyReply {
  return sendError(reply, denied.code, denied.detail);
}
