// Which (message, mailbox) deliveries happened, in Redis shared by every gateway: BullMQ runs a job
// at least once, so a job taken over after a crash asks here before writing a second Maildir copy.

import type { RedisClient } from '../queue/redis-connection.js';

/** `new`: first attempt; `pending`: an earlier attempt started and may or may not have finished; `done`: delivered. */
export type LedgerState = 'new' | 'pending' | 'done';

/** Long past any retry or stalled-job takeover; the key then expires by itself. */
const keepS = 7 * 24 * 3600;

export class DeliveryLedger {
  constructor(
    private readonly redis: Pick<RedisClient, 'set' | 'get'>,
    private readonly prefix: string,
  ) {}

  /** Claims a delivery; SET NX makes exactly one attempt see `new`. */
  async begin(delivery: string): Promise<LedgerState> {
    const key = this.key(delivery);
    if ((await this.redis.set(key, 'pending', 'EX', keepS, 'NX')) === 'OK') return 'new';
    return (await this.redis.get(key)) === 'done' ? 'done' : 'pending';
  }

  async done(delivery: string): Promise<void> {
    await this.redis.set(this.key(delivery), 'done', 'EX', keepS);
  }

  private key(delivery: string): string {
    return `${this.prefix}:delivered:${delivery}`;
  }
}
