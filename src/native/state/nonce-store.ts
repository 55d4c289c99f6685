// Seen request nonces per origin domain, kept until the signature's expiry plus skew: a captured
// signed request cannot be replayed while it is still inside its time window.
import type { RedisClient } from '../../queue/redis-connection.js';

export class NonceStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly skewS: number,
  ) {}

  /** True the first time (origin, nonce) is seen; false on a replay. */
  async claim(origin: string, nonce: string, expiresS: number): Promise<boolean> {
    const key = `${this.prefix}:pmtp:nonce:${origin}:${nonce}`;
    const set = await this.redis.set(key, '1', 'EXAT', expiresS + this.skewS, 'NX');
    return set === 'OK';
  }
}
