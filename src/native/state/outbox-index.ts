// The origin's index of the messages it serves: per message id the current version (and its
// spool entry), older versions (pulls of those get 410), and per destination domain whether it
// was notified and whether the sender withdrew the message there. Pull authorisation reads it.
import type { RedisClient } from '../../queue/redis-connection.js';
import { updateJsonField } from './redis-cas.js';

export interface OutboxCurrent {
  readonly version: number;
  readonly queueId: string;
  readonly digest: string;
  readonly expires: number;
  /** the fleet node (`node.id`) whose disk holds the copy; absent on a gateway that is no fleet node */
  readonly node?: string;
}

export interface OutboxDomain {
  readonly version: number;
  readonly recipients: readonly string[];
  readonly notified: boolean;
  readonly withdrawn?: 'retracted' | 'given_up';
}

export class OutboxIndex {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  private key(id: string): string {
    return `${this.prefix}:pmtp:out:${id}`;
  }

  async current(id: string): Promise<OutboxCurrent | undefined> {
    const raw = await this.redis.hget(this.key(id), 'current');
    return raw === null ? undefined : (JSON.parse(raw) as OutboxCurrent);
  }

  /**
   * Makes `next` current unless the same or a newer version already is; keeps the key until expiry.
   * `replacing` names a copy of the same version recorded but never stored (its submit died before
   * the commit): that record, and only that one, gives way.
   */
  async setCurrent(id: string, next: OutboxCurrent, replacing?: string): Promise<boolean> {
    const ttl = Math.max(60, next.expires - Math.floor(Date.now() / 1000) + 7 * 86_400);
    const stored = await updateJsonField<OutboxCurrent>(
      this.redis,
      this.key(id),
      'current',
      (cur) =>
        cur && cur.version >= next.version && !(cur.version === next.version && cur.queueId === replacing)
          ? undefined
          : next,
      ttl,
    );
    await this.redis.hset(this.key(id), `v:${next.version}`, next.queueId);
    return stored?.version === next.version && stored.queueId === next.queueId;
  }

  /** Names `to` as the node holding the current copy, if `from` held it (a node adopting a dead node's disk). */
  async moveOwner(id: string, from: string, to: string): Promise<void> {
    await updateJsonField<OutboxCurrent>(this.redis, this.key(id), 'current', (cur) =>
      cur?.node === from ? { ...cur, node: to } : undefined,
    );
  }

  async queueIdOf(id: string, version: number): Promise<string | undefined> {
    return (await this.redis.hget(this.key(id), `v:${version}`)) ?? undefined;
  }

  async domain(id: string, domain: string): Promise<OutboxDomain | undefined> {
    const raw = await this.redis.hget(this.key(id), `d:${domain}`);
    return raw === null ? undefined : (JSON.parse(raw) as OutboxDomain);
  }

  /** `domain`'s record and the current version in one round trip (a pull checks both). */
  async domainAndCurrent(
    id: string,
    domain: string,
  ): Promise<{ domain: OutboxDomain | undefined; current: OutboxCurrent | undefined }> {
    const [rawDomain, rawCurrent] = await this.redis.hmget(this.key(id), `d:${domain}`, 'current');
    return {
      domain: rawDomain == null ? undefined : (JSON.parse(rawDomain) as OutboxDomain),
      current: rawCurrent == null ? undefined : (JSON.parse(rawCurrent) as OutboxCurrent),
    };
  }

  /** Records the recipients of `domain` for `version`; `notified` once the notice goes out. */
  async setDomain(
    id: string,
    domain: string,
    version: number,
    recipients: readonly string[],
    notified: boolean,
  ): Promise<void> {
    await updateJsonField<OutboxDomain>(this.redis, this.key(id), `d:${domain}`, (cur) => {
      if (cur && cur.version > version) return undefined;
      if (cur && cur.version === version && cur.notified && !notified) return undefined;
      return { version, recipients: [...recipients], notified: notified || (cur?.version === version && cur.notified) };
    });
  }

  async withdraw(id: string, domain: string, reason: 'retracted' | 'given_up'): Promise<void> {
    await updateJsonField<OutboxDomain>(this.redis, this.key(id), `d:${domain}`, (cur) =>
      cur ? { ...cur, withdrawn: reason } : undefined,
    );
  }

  async domains(id: string): Promise<Record<string, OutboxDomain>> {
    const all = await this.redis.hgetall(this.key(id));
    return Object.fromEntries(
      Object.entries(all)
        .filter(([k]) => k.startsWith('d:'))
        .map(([k, v]) => [k.slice(2), JSON.parse(v) as OutboxDomain]),
    );
  }
}
