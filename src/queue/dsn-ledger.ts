// dsn-ledger: which DSNs were sent, so each outcome is reported once although jobs run at least
// once and several paths (notices, acks, expiry) may see the same final state. A caller claims
// items (e.g. `<recipient>:final`), sends, then marks them sent; a failed send releases them. A
// crash between the send and the mark leaves a claim: it is taken over only once it is stale,
// so a DSN is duplicated only if the process died in that one await and a later run found it.

import type { RedisClient } from './redis-connection.js';

/** A claim older than this belongs to a process that died: another run may take it over. */
const staleMs = 15 * 60_000;
/** As long as the status stores keep what a DSN reports. */
const retentionS = 14 * 24 * 3600;

// KEYS[1] hash; ARGV: now, stale, retention, items... Returns the items claimed now.
const claimScript = `
local claimed = {}
for i = 4, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  local take = not v
  if v and string.sub(v, 1, 2) == 'c:' then
    take = tonumber(string.sub(v, 3)) < tonumber(ARGV[1]) - tonumber(ARGV[2])
  end
  if take then
    redis.call('HSET', KEYS[1], ARGV[i], 'c:' .. ARGV[1])
    table.insert(claimed, ARGV[i])
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return claimed
`;

export class DsnLedger {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly now: () => number = Date.now,
  ) {}

  /** The items of `scope` this caller now owns: never sent, and not claimed by a live caller. */
  async claim(scope: string, items: readonly string[]): Promise<string[]> {
    if (items.length === 0) return [];
    return (await this.redis.eval(
      claimScript,
      1,
      this.key(scope),
      String(this.now()),
      String(staleMs),
      String(retentionS),
      ...items,
    )) as string[];
  }

  async sent(scope: string, items: readonly string[]): Promise<void> {
    if (items.length === 0) return;
    await this.redis
      .multi()
      .hset(this.key(scope), Object.fromEntries(items.map((i) => [i, 's'])))
      .expire(this.key(scope), retentionS)
      .exec();
  }

  /** The send failed: a later run may claim the items again at once. */
  async release(scope: string, items: readonly string[]): Promise<void> {
    if (items.length > 0) await this.redis.hdel(this.key(scope), ...items);
  }

  private key(scope: string): string {
    return `${this.prefix}:dsn:${scope}`;
  }
}
