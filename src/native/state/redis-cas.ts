// Compare-and-set of one JSON field in a Redis hash, so state machines kept in Redis move one
// legal step at a time even when an ack, a pull and a notice answer race for the same recipient.
import type { RedisClient } from '../../queue/redis-connection.js';

// KEYS[1] hash; ARGV: field, expected ('' = absent), next, ttl seconds (0 = keep)
const casScript = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if (current == false and ARGV[2] ~= '') or (current ~= false and current ~= ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
if tonumber(ARGV[4]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
return 1
`;

/**
 * Reads the field, lets `update` compute the next value (undefined = leave it), and writes it only
 * if nobody changed the field meanwhile; retries a few times. Returns the value now stored.
 */
export async function updateJsonField<T>(
  redis: RedisClient,
  key: string,
  field: string,
  update: (current: T | undefined) => T | undefined,
  ttlS = 0,
): Promise<T | undefined> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const raw = await redis.hget(key, field);
    const current = raw === null ? undefined : (JSON.parse(raw) as T);
    const next = update(current);
    if (next === undefined) return current;
    const done = await casCommand(redis)(key, field, raw ?? '', JSON.stringify(next), String(ttlS));
    if (done === 1) return next;
  }
  throw new Error(`could not update ${key} ${field}: too much contention`);
}

type CasCommand = (key: string, field: string, expected: string, next: string, ttl: string) => Promise<number>;
const defined = new WeakSet<RedisClient>();

/** The script as a defined command: ioredis sends EVALSHA, not the script text, each time. */
function casCommand(redis: RedisClient): CasCommand {
  if (!defined.has(redis)) {
    redis.defineCommand('mailbridgeJsonCas', { numberOfKeys: 1, lua: casScript });
    defined.add(redis);
  }
  const command = (redis as unknown as { mailbridgeJsonCas: CasCommand }).mailbridgeJsonCas;
  return command.bind(redis);
}
