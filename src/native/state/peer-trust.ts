// The key sets we trusted per peer domain (§8.8 continuity), kept in Redis so a restart or another
// gateway of ours does not forget them: a later key set must be signed by one of these keys.
// A record unused for TRUST_TTL_S is dropped, and the domain is then discovered afresh.
import type { RedisClient } from '../../queue/redis-connection.js';
import { type PeerTrustStore, type TrustRecord, trustRecordSchema } from '../protocol/key-continuity.js';

const TRUST_TTL_S = 400 * 86_400;

export class RedisPeerTrust implements PeerTrustStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  private key(domain: string): string {
    return `${this.prefix}:pmtp:peer-trust:${domain.toLowerCase()}`;
  }

  async get(domain: string): Promise<TrustRecord | undefined> {
    const text = await this.redis.get(this.key(domain));
    if (text === null) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return undefined;
    }
    // a record we cannot read is no trust at all: the domain is discovered afresh
    const parsed = trustRecordSchema.safeParse(json);
    return parsed.success ? parsed.data : undefined;
  }

  async put(domain: string, record: TrustRecord): Promise<void> {
    await this.redis.set(this.key(domain), JSON.stringify(record), 'EX', TRUST_TTL_S);
  }

  async forget(domain: string): Promise<void> {
    await this.redis.del(this.key(domain));
  }
}
