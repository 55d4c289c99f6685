// Origin-side state of each (message, recipient) pair: notified → … → delivered/rejected/…,
// moved only by legal transitions (recipient-state.ts) with compare-and-set in Redis. Answers
// `mailbridge status` for PMTP mail; keyed by message id, with an index from spool queue ids.
import type { RedisClient } from '../../queue/redis-connection.js';
import type { PowChallenge } from '../protocol/proof-of-work.js';
import { isFinal, type RecipientEvent, type RecipientState, transition } from '../protocol/recipient-state.js';
import { updateJsonField } from './redis-cas.js';

export interface PmtpRecipientStatus {
  readonly recipient: string;
  readonly domain: string;
  readonly state: RecipientState;
  readonly version: number;
  readonly code?: string;
  readonly text?: string;
  /** Deferred: the cookie and polling bounds the recipient server gave. */
  readonly cookie?: string;
  readonly endpoint?: string;
  /** Deferred: when we ask again (Unix s), and the last moment the recipient server allowed us to */
  readonly nextPollAt?: number;
  readonly pollUntil?: number;
  /** Challenged: our solution, re-sent with every notice to the endpoint that issued the challenge. */
  readonly pow?: SolvedChallenge;
  readonly updatedAt: number;
}

export interface SolvedChallenge {
  readonly challenge: PowChallenge;
  readonly solution: string;
  readonly endpoint: string;
}

const RETENTION_S = 14 * 24 * 3600;

export class PmtpStatusStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  private key(messageId: string): string {
    return `${this.prefix}:pmtp:status:${messageId}`;
  }

  /**
   * Records that `queueId` led to PMTP message `messageId`: an outbox entry, or an SMTP-born
   * message's inbound queue id (one manifest per destination domain, so possibly several ids).
   */
  async index(queueId: string, messageId: string): Promise<void> {
    const key = `${this.prefix}:pmtp:qid:${queueId}`;
    await this.redis.multi().sadd(key, messageId).expire(key, RETENTION_S).exec();
  }

  async messageIdsOf(queueId: string): Promise<string[]> {
    return (await this.redis.smembers(`${this.prefix}:pmtp:qid:${queueId}`)).sort();
  }

  /** New recipients start `notified`; on an edit, existing ones take the `edit` event. */
  async notified(
    messageId: string,
    version: number,
    byDomain: Record<string, readonly string[]>,
    nowS: number,
  ): Promise<void> {
    for (const [domain, recipients] of Object.entries(byDomain)) {
      for (const recipient of recipients) {
        await updateJsonField<PmtpRecipientStatus>(
          this.redis,
          this.key(messageId),
          recipient,
          (current) => {
            if (!current) return { recipient, domain, state: 'notified', version, updatedAt: nowS };
            if (current.version >= version) return undefined;
            const next = transition(current.state, 'edit');
            return next.ok ? { recipient, domain, state: next.state, version, updatedAt: nowS } : undefined;
          },
          RETENTION_S,
        );
      }
    }
  }

  /**
   * Applies `event` (or a chain, e.g. accept then fetch) if legal; otherwise leaves the record.
   * Only records of `version` (when given) move, so a late answer about an old version is ignored.
   */
  async apply(
    messageId: string,
    recipient: string,
    events: RecipientEvent | readonly RecipientEvent[],
    nowS: number,
    extra: Partial<
      Pick<PmtpRecipientStatus, 'code' | 'text' | 'cookie' | 'endpoint' | 'pow' | 'nextPollAt' | 'pollUntil'>
    > = {},
    version?: number,
  ): Promise<PmtpRecipientStatus | undefined> {
    const chain = typeof events === 'string' ? [events] : events;
    return updateJsonField<PmtpRecipientStatus>(
      this.redis,
      this.key(messageId),
      recipient,
      (current) => {
        if (!current || (version !== undefined && current.version !== version)) return undefined;
        let state = current.state;
        for (const event of chain) {
          const next = transition(state, event);
          if (next.ok) state = next.state;
          else if (chain.length === 1) return undefined;
        }
        if (state === current.state && Object.keys(extra).length === 0) return undefined;
        return { ...current, ...extra, state, updatedAt: nowS };
      },
      RETENTION_S,
    );
  }

  /**
   * An ack for an older version than the recipient's record: it had pulled that version before the
   * edit reached it (and answers, or answered, the edit `already_fetched`), so the ack is its
   * outcome, recorded under that version.
   */
  async keptVersion(
    messageId: string,
    recipient: string,
    version: number,
    state: 'delivered' | 'rejected',
    nowS: number,
    extra: Partial<Pick<PmtpRecipientStatus, 'code' | 'text'>> = {},
  ): Promise<PmtpRecipientStatus | undefined> {
    return updateJsonField<PmtpRecipientStatus>(
      this.redis,
      this.key(messageId),
      recipient,
      (current) =>
        current && current.version > version && (!isFinal(current.state) || current.code === 'already_fetched')
          ? { recipient, domain: current.domain, state, version, updatedAt: nowS, ...extra }
          : undefined,
      RETENTION_S,
    );
  }

  async get(messageId: string): Promise<PmtpRecipientStatus[]> {
    const all = await this.redis.hgetall(this.key(messageId));
    return Object.values(all)
      .map((v) => JSON.parse(v) as PmtpRecipientStatus)
      .sort((a, b) => a.recipient.localeCompare(b.recipient));
  }

  async recipient(messageId: string, recipient: string): Promise<PmtpRecipientStatus | undefined> {
    const raw = await this.redis.hget(this.key(messageId), recipient);
    return raw === null ? undefined : (JSON.parse(raw) as PmtpRecipientStatus);
  }
}
