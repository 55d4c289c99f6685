// What the recipient side holds per origin domain at once, in Redis: notices deferred until their
// author is checked (cookies and a decide job each) and notices whose message waits to be pulled.
// Each is a sorted set of (id, version) scored by the notice's expiry, so entries a lost job never
// released still leave when the notice expires.
import type { RedisClient } from '../../queue/redis-connection.js';

/** Deferred notices (cookies, decide jobs) or queued pulls. */
export type BacklogKind = 'deferred' | 'pull';

// drop expired entries; an entry already held answers 'held'; otherwise admit below the cap
const ADMIT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then return 2 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2]
redis.call('EXPIREAT', KEYS[1], math.max(tonumber(last), tonumber(ARGV[1])) + 60)
return 1
`;

/** `admitted`: newly held; `held`: held before (a repeated notice); `full`: the cap refused it. */
export type Admission = 'admitted' | 'held' | 'full';

export class OriginBacklog {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  private key(kind: BacklogKind, origin: string): string {
    return `${this.prefix}:pmtp:backlog:${kind}:${origin}`;
  }

  /** Holds (id, version) for `origin` unless `cap` entries are held already. */
  async admit(
    kind: BacklogKind,
    origin: string,
    notice: { id: string; version: number; expires: number },
    cap: number,
    nowS: number,
  ): Promise<Admission> {
    const member = `${notice.id}:${notice.version}`;
    const answer = await this.redis.eval(ADMIT, 1, this.key(kind, origin), nowS, member, notice.expires, cap);
    return answer === 2 ? 'held' : answer === 1 ? 'admitted' : 'full';
  }

  async release(kind: BacklogKind, origin: string, id: string, version: number): Promise<void> {
    await this.redis.zrem(this.key(kind, origin), `${id}:${version}`);
  }
}
