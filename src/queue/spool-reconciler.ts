// Runs the acceptor's reconcile every `queues.reconcile_interval_s`, not only at start, so a spool
// entry that lost its job moves again within a minute. Several gateways on one Redis and spool take
// turns: a Redis key held for one interval lets one of them scan per interval.

import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.js';
import type { MessageAcceptor } from './accept.js';
import type { RedisClient } from './redis-connection.js';
import { isRedisFault } from './redis-faults.js';

export interface SpoolReconcilerOptions {
  readonly intervalMs: number;
  /** a running writer adds the job right after the rename; give it this long */
  readonly graceMs: number;
  /** key prefix shared by the gateways on this Redis */
  readonly prefix: string;
}

export class SpoolReconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private readonly owner = randomUUID();

  constructor(
    private readonly acceptor: Pick<MessageAcceptor, 'reconcile'>,
    private readonly redis: RedisClient,
    private readonly log: Logger,
    private readonly options: SpoolReconcilerOptions,
  ) {}

  start(): void {
    if (this.options.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      this.running ??= this.runOnce().finally(() => {
        this.running = undefined;
      });
    }, this.options.intervalMs);
    this.timer.unref();
  }

  /** One scan if no other gateway scanned within the interval; the number of entries given a job back. */
  async runOnce(): Promise<number> {
    try {
      const key = `${this.options.prefix}:spool-reconcile`;
      const turn = await this.redis.set(key, this.owner, 'PX', Math.max(1000, this.options.intervalMs - 100), 'NX');
      if (turn !== 'OK') return 0;
      const { entries, requeued } = await this.acceptor.reconcile(this.options.graceMs);
      if (requeued.length > 0) this.log.warn({ entries, requeued: requeued.length }, 'spool reconciled');
      return requeued.length;
    } catch (err) {
      // Redis down: the next interval tries again; anything else is worth an operator's look
      if (isRedisFault(err))
        this.log.warn({ err: (err as Error).message }, 'spool reconcile skipped: Redis unavailable');
      else this.log.error({ err }, 'spool reconcile failed');
      return 0;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
