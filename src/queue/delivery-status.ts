// delivery-status: each recipient's fate per queue id, kept in Redis for the sender to ask about
// (`mailbridge status`, the PMTP status query) instead of bounces. One hash per queue id, one
// JSON field per recipient; updates are atomic and a final state is never overwritten.

import { type StatusCode, statusOf } from '../codes.js';
import type { RedisClient } from './redis-connection.js';

/** `deleted`: an operator removed the message before it was final (`mailbridge queue delete`). */
export type RecipientState = 'queued' | 'deferred' | 'delivered' | 'failed' | 'expired' | 'deleted';

export const finalStates: readonly RecipientState[] = ['delivered', 'failed', 'expired', 'deleted'];

export interface RecipientStatus {
  readonly recipient: string;
  readonly state: RecipientState;
  /** delivery attempts made so far */
  readonly attempts: number;
  /** the last remote reply (or local error) verbatim */
  readonly reply?: string;
  readonly code?: StatusCode | 'ok';
  /** `host:port` that gave the reply */
  readonly host?: string;
  readonly queuedAt: string;
  readonly lastAttemptAt?: string;
  readonly finalAt?: string;
}

export interface AttemptResult {
  readonly recipient: string;
  readonly state: Exclude<RecipientState, 'queued'>;
  readonly reply: string;
  readonly code: StatusCode | 'ok';
  readonly host?: string;
}

/** A status is kept this long after its last change; `mailbridge status` answers for a week. */
const defaultRetentionS = 7 * 24 * 3600;

// KEYS[1] hash; ARGV: recipient, state, reply, code, host, at, countsAsAttempt, retention, finalStates...
const recordScript = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
local rec = current and cjson.decode(current) or { recipient = ARGV[1], attempts = 0, queuedAt = ARGV[6] }
for i = 9, #ARGV do
  if rec.state == ARGV[i] then return current end
end
rec.state = ARGV[2]
rec.reply = ARGV[3]
rec.code = ARGV[4]
if ARGV[5] ~= '' then rec.host = ARGV[5] else rec.host = nil end
if ARGV[7] == '1' then
  rec.attempts = rec.attempts + 1
  rec.lastAttemptAt = ARGV[6]
end
for i = 9, #ARGV do
  if ARGV[2] == ARGV[i] then rec.finalAt = ARGV[6] end
end
local encoded = cjson.encode(rec)
redis.call('HSET', KEYS[1], ARGV[1], encoded)
redis.call('EXPIRE', KEYS[1], ARGV[8])
return encoded
`;

export class DeliveryStatusStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly retentionS: number = defaultRetentionS,
  ) {}

  /** Marks recipients queued; recipients that already have a status keep it. */
  async queued(queueId: string, recipients: readonly string[], at: Date): Promise<void> {
    const key = this.key(queueId);
    const tx = this.redis.multi();
    for (const recipient of recipients) {
      const status: RecipientStatus = { recipient, state: 'queued', attempts: 0, queuedAt: at.toISOString() };
      tx.hsetnx(key, recipient, JSON.stringify(status));
    }
    tx.expire(key, this.retentionS);
    await tx.exec();
  }

  /** Records one attempt's result (or a final verdict reached without one, e.g. expiry). */
  async record(queueId: string, result: AttemptResult, at: Date, countsAsAttempt = true): Promise<RecipientStatus> {
    const encoded = (await this.redis.eval(
      recordScript,
      1,
      this.key(queueId),
      result.recipient,
      result.state,
      result.reply,
      result.code,
      result.host ?? '',
      at.toISOString(),
      countsAsAttempt ? '1' : '0',
      String(this.retentionS),
      ...finalStates,
    )) as string;
    return JSON.parse(encoded) as RecipientStatus;
  }

  /**
   * An operator removed the message: recipients not yet final become `deleted`, not `failed`,
   * because no remote host refused them; final ones keep their outcome. Not counted as an attempt.
   */
  async deleted(queueId: string, recipients: readonly string[], at: Date): Promise<void> {
    for (const recipient of recipients) {
      await this.record(
        queueId,
        { recipient, state: 'deleted', reply: statusOf('admin_deleted').text, code: 'admin_deleted' },
        at,
        false,
      );
    }
  }

  /** Every recipient of a queue id, in address order; empty when unknown or expired. */
  async get(queueId: string): Promise<RecipientStatus[]> {
    const fields = await this.redis.hgetall(this.key(queueId));
    return Object.values(fields)
      .map((value) => JSON.parse(value) as RecipientStatus)
      .sort((a, b) => a.recipient.localeCompare(b.recipient));
  }

  async recipient(queueId: string, recipient: string): Promise<RecipientStatus | undefined> {
    const value = await this.redis.hget(this.key(queueId), recipient);
    return value === null ? undefined : (JSON.parse(value) as RecipientStatus);
  }

  private key(queueId: string): string {
    return `${this.prefix}:status:${queueId}`;
  }
}
