// Spent proof-of-work stamps: a solved challenge counts once. Re-sending the same notice with the
// same solution is the same use (notices are idempotent), any other use is refused.
import type { RedisClient } from '../../queue/redis-connection.js';

export class PowStampStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  /** True if the stamp is fresh or was spent by this same `use`. */
  async spend(stampId: string, use: string, expiresS: number): Promise<boolean> {
    const key = `${this.prefix}:pmtp:stamp:${stampId}`;
    const set = await this.redis.set(key, use, 'EXAT', expiresS + 60, 'NX');
    if (set === 'OK') return true;
    return (await this.redis.get(key)) === use;
  }
}
