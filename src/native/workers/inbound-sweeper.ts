// The recipient side's sweeper, every `pmtp.sweep_interval_s` on one gateway at a time (a Redis turn
// key, as the spool reconciler takes): notices past their expiry whose recipients were never
// decided or pulled expire, and pulled copies that no recipient needs any more leave the spool.

import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../../queue/redis-connection.js';
import { isRedisFault } from '../../queue/redis-faults.js';
import type { PmtpContext } from '../pmtp-context.js';
import { isFinal, transition } from '../protocol/recipient-state.js';

/** The parts of the PMTP context this file uses. */
export type InboundSweeperDeps = Pick<PmtpContext, 'inbound' | 'log' | 'nowMs' | 'nowS' | 'spool'>;

export interface InboundSweeperOptions {
  readonly intervalMs: number;
  /** a pull job commits its copy a moment before moving recipients on: leave younger copies alone */
  readonly graceMs: number;
  /** key prefix shared by the gateways on this Redis */
  readonly prefix: string;
}

export interface Swept {
  /** recipients whose notice expired undecided or unpulled */
  readonly expired: number;
  /** pulled copies removed */
  readonly removed: number;
}

const BATCH = 200;

export class InboundSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private readonly owner = randomUUID();

  constructor(
    private readonly rt: InboundSweeperDeps,
    private readonly redis: RedisClient,
    private readonly options: InboundSweeperOptions,
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

  /** One sweep unless another gateway swept within the interval. */
  async runOnce(): Promise<Swept> {
    try {
      const key = `${this.options.prefix}:pmtp:inbound-sweep`;
      const turn = await this.redis.set(key, this.owner, 'PX', Math.max(1000, this.options.intervalMs - 100), 'NX');
      if (turn !== 'OK') return { expired: 0, removed: 0 };
      return { expired: await this.expireNotices(), removed: await this.dropServedCopies() };
    } catch (err) {
      if (isRedisFault(err)) this.rt.log.warn({ err: (err as Error).message }, 'pmtp sweep skipped: Redis unavailable');
      else this.rt.log.error({ err }, 'pmtp sweep failed');
      return { expired: 0, removed: 0 };
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private async expireNotices(): Promise<number> {
    const { inbound, log } = this.rt;
    const nowS = this.rt.nowS();
    let count = 0;
    for (let due = await inbound.expiredNotices(nowS, BATCH); due.length > 0; ) {
      for (const { origin, id } of due) {
        const expired: string[] = [];
        for (const r of await inbound.recipients(origin, id)) {
          // fetched ones are ours already (their pull job delivers them); expire is illegal there
          const saved = await inbound.updateRecipient(origin, id, r.recipient, (cur) => {
            const next = cur ? transition(cur.state, 'expire') : undefined;
            return cur && next?.ok ? { ...cur, state: next.state } : undefined;
          });
          if (saved?.state === 'expired') expired.push(r.recipient);
        }
        if ((await inbound.recipients(origin, id)).every((r) => isFinal(r.state))) await inbound.forgetHead(origin, id);
        await inbound.unindex(origin, id);
        if (expired.length > 0)
          log.info({ origin, id, recipients: expired }, 'pmtp notice expired undecided or unpulled');
        count += expired.length;
      }
      due = await inbound.expiredNotices(nowS, BATCH);
    }
    return count;
  }

  private async dropServedCopies(): Promise<number> {
    const { inbound, spool, log } = this.rt;
    let removed = 0;
    for (const queueId of await spool.list()) {
      // removed since the listing, or unreadable (start-up recovery reports those)
      const entry = await spool.read(queueId).catch(() => undefined);
      if (entry?.meta.kind !== 'pmtp-received') continue;
      if (this.rt.nowMs() - Date.parse(entry.meta.createdAt) < this.options.graceMs) continue;
      const { origin, id, version } = entry.meta.pmtp;
      const served = (await inbound.recipients(origin, id)).filter((r) => r.version === version);
      if (served.some((r) => !isFinal(r.state))) continue;
      await spool.remove(queueId);
      removed++;
      log.info(
        { queueId, origin, id, version, recipients: Object.fromEntries(served.map((r) => [r.recipient, r.state])) },
        'removed a pulled pmtp copy no recipient needs',
      );
    }
    return removed;
  }
}
