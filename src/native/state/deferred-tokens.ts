// Sender tokens a notice carried for recipients we deferred (the author is outside the origin):
// kept per (origin, id, version) until the notice expires, so the decision taken once the
// provenance is read can weigh them for an author it finds authenticated.
import type { RedisClient } from '../../queue/redis-connection.js';

export class DeferredTokenStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  private key(origin: string, id: string, version: number): string {
    return `${this.prefix}:pmtp:in-tokens:${origin}:${id}:${version}`;
  }

  async save(origin: string, id: string, version: number, tokens: readonly string[], expires: number, nowS: number) {
    if (tokens.length === 0) return;
    await this.redis.set(this.key(origin, id, version), JSON.stringify(tokens), 'EX', Math.max(60, expires - nowS));
  }

  async get(origin: string, id: string, version: number): Promise<string[]> {
    const raw = await this.redis.get(this.key(origin, id, version));
    return raw === null ? [] : (JSON.parse(raw) as string[]);
  }
}
