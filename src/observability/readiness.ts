// readiness: the checks behind /readyz. Ready means mail can be accepted right now: Redis answers
// PING, and the spool can take a durable write (write, fsync, unlink a probe where drafts are written).

import { randomBytes } from 'node:crypto';
import { open, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { RedisClient } from '../queue/redis-connection.js';

export interface ReadinessCheck {
  readonly name: string;
  /** resolves when healthy; rejects with the reason otherwise */
  run(): Promise<void>;
}

/** How long one check may take before it counts as failed: a hung disk or Redis is not ready. */
const checkTimeoutMs = 2000;

export function redisCheck(redis: Pick<RedisClient, 'ping'>): ReadinessCheck {
  return {
    name: 'redis',
    async run() {
      const answer = await redis.ping();
      if (answer !== 'PONG') throw new Error(`PING answered ${answer}`);
    },
  };
}

/** Probes `<spool>/tmp`, where every SMTP draft starts, so a full or read-only disk shows here first. */
export function spoolWritableCheck(spoolDir: string): ReadinessCheck {
  return {
    name: 'spool',
    async run() {
      // not a queue id, so neither the spool listing nor `mailbridge queue` ever sees it
      const probe = path.join(spoolDir, 'tmp', `.readyz-${process.pid}-${randomBytes(4).toString('hex')}`);
      const handle = await open(probe, 'wx', 0o600);
      try {
        await handle.write('readyz\n');
        await handle.sync();
      } finally {
        await handle.close();
        await unlink(probe).catch(() => undefined);
      }
    },
  };
}

/** Runs every check at once; each result is 'ok' or the reason it failed (or did not answer in time). */
export async function runChecks(
  checks: readonly ReadinessCheck[],
  timeoutMs = checkTimeoutMs,
): Promise<{ ok: boolean; checks: Record<string, string> }> {
  const results = await Promise.all(
    checks.map(async (check): Promise<[string, string]> => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        await Promise.race([check.run(), timeout]);
        return [check.name, 'ok'];
      } catch (err) {
        return [check.name, err instanceof Error ? err.message : String(err)];
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return { ok: results.every(([, result]) => result === 'ok'), checks: Object.fromEntries(results) };
}
