// Each local recipient's correspondents (the first-contact allowlist): senders who solved a
// challenge, and addresses the recipient has written to. Kept in Redis, one set per recipient.
import type { RedisClient } from '../../queue/redis-connection.js';

export class ContactStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  private key(recipient: string): string {
    return `${this.prefix}:pmtp:contacts:${normalise(recipient)}`;
  }

  async has(recipient: string, sender: string): Promise<boolean> {
    return (await this.redis.sismember(this.key(recipient), normalise(sender))) === 1;
  }

  async add(recipient: string, sender: string): Promise<void> {
    await this.redis.sadd(this.key(recipient), normalise(sender));
  }

  async list(recipient: string): Promise<string[]> {
    return (await this.redis.smembers(this.key(recipient))).sort();
  }
}

/** Local part exact, domain lower-cased (PMTP address comparison). */
function normalise(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? address : `${address.slice(0, at)}@${address.slice(at + 1).toLowerCase()}`;
}

/**
 * Call when a local user sends mail: every recipient becomes one of the sender's contacts, so
 * their replies skip first-contact checks.
 */
export async function allowlistCorrespondents(
  contacts: ContactStore,
  localSender: string,
  recipients: readonly string[],
): Promise<void> {
  for (const recipient of recipients) await contacts.add(localSender, recipient);
}
