// The fleet's roll of nodes in Redis: each node (`node.id`) records at start where the other nodes
// reach its PMTP listener (`node.internal_url`), so a pull of a copy another node holds can be
// handed to that node. A node that adopted a dead one's disk answers for it too.
import type { RedisClient } from './redis-connection.js';
import { groupedKey } from './redis-keys.js';

export class FleetNodes {
  private readonly key: string;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.key = groupedKey(prefix, 'nodes', 'nodes');
  }

  /** Records `id` at `internalUrl`; a node restarting elsewhere simply overwrites its line. */
  async register(id: string, internalUrl: string): Promise<void> {
    await this.redis.hset(this.key, id, internalUrl);
  }

  /** Where node `id` is reached now; undefined for a node never registered. */
  async urlOf(id: string): Promise<string | undefined> {
    return (await this.redis.hget(this.key, id)) ?? undefined;
  }
}
