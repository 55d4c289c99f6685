// One answer to "what happened to this message?" for `mailbridge status`: the SMTP delivery
// status (per queue id) and the PMTP recipient states (per message id, or via the queue ids that
// led to PMTP messages), merged into one list of rows, one per recipient and route.

import { type PmtpRecipientStatus, PmtpStatusStore } from '../native/state/pmtp-status.js';
import { DeliveryStatusStore } from '../queue/delivery-status.js';
import type { RedisClient } from '../queue/redis-connection.js';

export interface MessageStatusRow {
  readonly recipient: string;
  readonly protocol: 'smtp' | 'pmtp';
  /** queue id (SMTP) or PMTP message id */
  readonly ref: string;
  readonly state: string;
  readonly final: boolean;
  readonly detail?: string;
  readonly updatedAt?: string;
}

/** Why a PMTP recipient waits and what happens next: the peer's deferral window or its challenge. */
function waitingDetail(s: PmtpRecipientStatus): string[] {
  const at = (t: number) => new Date(t * 1000).toISOString();
  if (s.state === 'deferred') {
    return [
      'the recipient server has not decided yet',
      s.nextPollAt === undefined ? undefined : `next poll ${at(s.nextPollAt)}`,
      s.pollUntil === undefined ? undefined : `polling until ${at(s.pollUntil)}`,
    ].filter((d): d is string => d !== undefined);
  }
  if (s.state === 'challenged') {
    return s.pow
      ? [`first-contact challenge of ${s.pow.challenge.bits} bits solved; the notice is sent again with the solution`]
      : ['first-contact challenge: solving'];
  }
  return [];
}

const SMTP_FINAL = new Set(['delivered', 'failed', 'expired']);
const PMTP_FINAL = new Set(['delivered', 'rejected', 'expired', 'retracted', 'given-up']);

export async function lookupMessageStatus(redis: RedisClient, prefix: string, id: string): Promise<MessageStatusRow[]> {
  const smtp = new DeliveryStatusStore(redis, prefix);
  const pmtp = new PmtpStatusStore(redis, prefix);
  const rows: MessageStatusRow[] = [];
  for (const s of await smtp.get(id).catch(() => [])) {
    const detail = [s.code, s.reply, s.host ? `via ${s.host}` : undefined].filter(Boolean).join(' ');
    rows.push({
      recipient: s.recipient,
      protocol: 'smtp',
      ref: id,
      state: s.state,
      final: SMTP_FINAL.has(s.state),
      ...(detail ? { detail } : {}),
      updatedAt: s.finalAt ?? s.lastAttemptAt ?? s.queuedAt,
    });
  }
  const messageIds = new Set([id, ...(await pmtp.messageIdsOf(id))]);
  for (const messageId of messageIds) {
    for (const s of await pmtp.get(messageId)) {
      const detail = [
        s.version > 1 ? `version ${s.version}` : undefined,
        s.code,
        s.text,
        s.endpoint ? `via ${s.endpoint}` : undefined,
        ...waitingDetail(s),
      ]
        .filter(Boolean)
        .join(' ');
      rows.push({
        recipient: s.recipient,
        protocol: 'pmtp',
        ref: messageId,
        state: s.state,
        final: PMTP_FINAL.has(s.state),
        ...(detail ? { detail } : {}),
        updatedAt: new Date(s.updatedAt * 1000).toISOString(),
      });
    }
  }
  return rows.sort((a, b) => a.recipient.localeCompare(b.recipient) || a.protocol.localeCompare(b.protocol));
}
