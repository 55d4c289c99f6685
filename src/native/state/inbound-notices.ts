// The recipient side's memory of notices: per (origin, message id) the announced version and
// digest, and per recipient the state and the disposition we answered, so a re-sent notice gets
// the same answer; plus deferral cookies, which only the origin they were given to may use.
import type { RedisClient } from '../../queue/redis-connection.js';
import type { TrustClass } from '../protocol/first-contact-policy.js';
import type { Disposition } from '../protocol/notice.js';
import type { RecipientState } from '../protocol/recipient-state.js';
import { updateJsonField } from './redis-cas.js';

export interface InboundHead {
  readonly version: number;
  readonly digest: string;
  readonly size: number;
  readonly sender: string;
  readonly expires: number;
  readonly receivedAt: number;
  /** Spool entry of the pulled message, as releases before `copyOf` noted it. */
  readonly queueId?: string;
}

export interface InboundRecipient {
  readonly recipient: string;
  readonly version: number;
  readonly state: RecipientState;
  readonly disposition: Disposition;
  readonly trust?: TrustClass;
  /** Why a rejection happened (ours or local delivery's). */
  readonly code?: string;
  readonly text?: string;
}

export interface CookieRef {
  readonly origin: string;
  readonly id: string;
  readonly recipient: string;
}

const KEEP_AFTER_EXPIRY_S = 7 * 86_400;

export class InboundNoticeStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  private key(origin: string, id: string): string {
    return `${this.prefix}:pmtp:in:${origin}:${id}`;
  }

  async head(origin: string, id: string): Promise<InboundHead | undefined> {
    const raw = await this.redis.hget(this.key(origin, id), 'head');
    return raw === null ? undefined : (JSON.parse(raw) as InboundHead);
  }

  private get expiryKey(): string {
    return `${this.prefix}:pmtp:in-expiry`;
  }

  /**
   * Also indexes the notice by its expiry, for the recipient-side sweeper. Two steps, since on Redis
   * Cluster the notice and the index sit in different slots; the notice's own TTL removes it even if
   * the index never learns of it.
   */
  async setHead(origin: string, id: string, head: InboundHead, nowS: number): Promise<void> {
    const key = this.key(origin, id);
    await this.redis
      .multi()
      .hset(key, 'head', JSON.stringify(head))
      .expire(key, Math.max(60, head.expires - nowS + KEEP_AFTER_EXPIRY_S))
      .exec();
    await this.redis.zadd(this.expiryKey, head.expires, `${origin} ${id}`);
  }

  /** Notices whose expiry is before `nowS`, oldest first, at most `limit`. */
  async expiredNotices(nowS: number, limit: number): Promise<{ origin: string; id: string }[]> {
    const members = await this.redis.zrangebyscore(this.expiryKey, '-inf', `(${nowS}`, 'LIMIT', 0, limit);
    return members.map((m) => {
      const [origin = '', id = ''] = m.split(' ');
      return { origin, id };
    });
  }

  /** Takes a notice out of the expiry index once swept. */
  async unindex(origin: string, id: string): Promise<void> {
    await this.redis.zrem(this.expiryKey, `${origin} ${id}`);
  }

  /**
   * Notes the spool entry a version was pulled into. Kept apart from the head, which the next
   * version's notice replaces, so a pulled copy stays findable until its recipients are served.
   */
  async noteCopy(origin: string, id: string, version: number, queueId: string): Promise<void> {
    await this.redis.hset(this.key(origin, id), `copy:${version}`, queueId);
  }

  async copyOf(origin: string, id: string, version: number): Promise<string | undefined> {
    return (await this.redis.hget(this.key(origin, id), `copy:${version}`)) ?? undefined;
  }

  async recipient(origin: string, id: string, recipient: string): Promise<InboundRecipient | undefined> {
    const raw = await this.redis.hget(this.key(origin, id), `r:${recipient}`);
    return raw === null ? undefined : (JSON.parse(raw) as InboundRecipient);
  }

  async updateRecipient(
    origin: string,
    id: string,
    recipient: string,
    update: (r: InboundRecipient | undefined) => InboundRecipient | undefined,
  ): Promise<InboundRecipient | undefined> {
    return updateJsonField(this.redis, this.key(origin, id), `r:${recipient}`, update);
  }

  async recipients(origin: string, id: string): Promise<InboundRecipient[]> {
    const all = await this.redis.hgetall(this.key(origin, id));
    return Object.entries(all)
      .filter(([k]) => k.startsWith('r:'))
      .map(([, v]) => JSON.parse(v) as InboundRecipient);
  }

  /** Drops what we know of the message except the recipients' final states. */
  async forgetHead(origin: string, id: string): Promise<void> {
    await this.redis.hdel(this.key(origin, id), 'head');
  }

  async setCookie(cookie: string, ref: CookieRef, expiresS: number): Promise<void> {
    await this.redis.set(`${this.prefix}:pmtp:cookie:${cookie}`, JSON.stringify(ref), 'EXAT', expiresS + 86_400);
  }

  async cookie(cookie: string): Promise<CookieRef | undefined> {
    const raw = await this.redis.get(`${this.prefix}:pmtp:cookie:${cookie}`);
    return raw === null ? undefined : (JSON.parse(raw) as CookieRef);
  }
}
