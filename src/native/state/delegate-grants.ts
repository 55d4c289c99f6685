// Origin side: the delegations recipient domains granted us in redirect answers, by (domain, delegate
// key id), so a request signed with a delegate's own key can be verified and held to its one recipient.
// Bounded per domain (the soonest-expiring grant goes first) and kept a day past expiry, then dropped.
import type { RedisClient } from '../../queue/redis-connection.js';
import { groupedKey } from '../../queue/redis-keys.js';
import { type Delegation, delegateKeyId, delegationSchema } from '../protocol/delegation.js';

/** Grants kept per delegating domain; a domain with more redirected recipients loses its oldest. */
export const MAX_GRANTS_PER_DOMAIN = 1000;
/** How long an expired grant is kept, so its key is answered delegation_expired rather than unknown_key. */
export const EXPIRED_GRANT_KEPT_S = 86_400;

// KEYS[1] grants hash, KEYS[2] zset of key ids by drop time; ARGV: key id, proof, drop at, now, cap
const recordScript = `
local gone = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
for _, k in ipairs(gone) do redis.call('HDEL', KEYS[1], k) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[5])
if over > 0 then
  local drop = redis.call('ZRANGE', KEYS[2], 0, over - 1)
  for _, k in ipairs(drop) do redis.call('HDEL', KEYS[1], k) end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
end
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
redis.call('EXPIREAT', KEYS[1], last[2])
redis.call('EXPIREAT', KEYS[2], last[2])
return 1
`;

export class DelegateGrantStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly maxPerDomain = MAX_GRANTS_PER_DOMAIN,
  ) {}

  private keys(domain: string): [string, string] {
    // one script updates both: they share a slot on Redis Cluster
    const group = `pmtp:delegates:${domain}`;
    return [
      groupedKey(this.prefix, group, `pmtp:delegates:${domain}`),
      groupedKey(this.prefix, group, `pmtp:delegates-by-expiry:${domain}`),
    ];
  }

  /**
   * Records a verified proof. One grant per delegate key: a later proof for the same key replaces the
   * earlier one, so a key is never valid for two recipients at once.
   */
  async record(proof: Delegation, nowS: number): Promise<void> {
    const [grants, byExpiry] = this.keys(proof.domain);
    await this.redis.eval(
      recordScript,
      2,
      grants,
      byExpiry,
      delegateKeyId(proof),
      JSON.stringify(proof),
      String(proof.expires + EXPIRED_GRANT_KEPT_S),
      String(nowS),
      String(this.maxPerDomain),
    );
  }

  /** The grant of `domain` for this delegate key id, expired or not; undefined when none is kept. */
  async find(domain: string, keyId: string): Promise<Delegation | undefined> {
    const raw = await this.redis.hget(this.keys(domain)[0], keyId);
    if (raw === null) return undefined;
    const parsed = delegationSchema.safeParse(JSON.parse(raw));
    return parsed.success && delegateKeyId(parsed.data) === keyId ? parsed.data : undefined;
  }

  /**
   * The delegate's key for verifying an answer from `endpoint`: only the endpoint the grant names,
   * only for a signature created while the grant runs.
   */
  async answerKey(domain: string, keyId: string, endpoint: string, at: number): Promise<Buffer | undefined> {
    const grant = await this.find(domain, keyId);
    const same = grant !== undefined && grant.endpoint === new URL(endpoint).origin && at <= grant.expires;
    return same ? Buffer.from(grant.delegate_key, 'base64url') : undefined;
  }
}
