// Delivery into the mailboxes of `domains.mailbox`: the bytes a mail client reads, with our trace
// fields on top, one Maildir file per recipient (src/mail/mailbox-delivery.ts's MailboxDelivery).
// Each (message, mailbox) has a stable file name and a ledger entry, so a retried job adds no copy.

import type { Readable } from 'node:stream';
import type { Config } from '../config/schema.js';
import type { MailboxDelivery, MailboxRecipientResult } from '../mail/mailbox-delivery.js';
import { isRedisFault } from '../queue/redis-faults.js';
import type { DeliveryLedger } from './delivery-ledger.js';
import { deliverToMaildir, findInMaildir, stableMaildirName } from './maildir.js';

export interface LocalMailboxesOptions {
  /** shared by every gateway on the Redis; without it only a copy still in new/ is recognised */
  readonly ledger?: DeliveryLedger;
  readonly now?: () => number;
}

export class LocalMailboxes implements MailboxDelivery {
  constructor(
    private readonly config: Pick<Config, 'hostname' | 'mailbox' | 'domains'>,
    private readonly options: LocalMailboxesOptions = {},
  ) {}

  hosts(domain: string): boolean {
    return this.config.domains.mailbox.includes(domain.toLowerCase());
  }

  /**
   * Writes `traceFields` then the message to each recipient's Maildir. `open` is called once per
   * recipient so a large message streams from disk every time instead of sitting in memory.
   * `messageId` names the message for good (queue id, PMTP origin and id): retries must pass the same.
   */
  async deliver(
    recipients: readonly string[],
    traceFields: string,
    open: () => Promise<Readable>,
    messageId: string,
  ): Promise<MailboxRecipientResult[]> {
    const root = this.config.mailbox.maildir_root;
    const results: MailboxRecipientResult[] = [];
    for (const recipient of recipients) {
      const at = recipient.lastIndexOf('@');
      const user = recipient.slice(0, at);
      const domain = recipient.slice(at + 1).toLowerCase();
      if (!root) {
        results.push({ recipient, delivered: false, error: 'mailbox.maildir_root is not configured' });
        continue;
      }
      try {
        results.push({
          recipient,
          delivered: true,
          ...(await this.deliverOnce(root, { domain, user }, messageId, () =>
            open().then((body) => withTrace(traceFields, body)),
          )),
        });
      } catch (err) {
        // the ledger's Redis failing is ours to retry in seconds, not this mailbox's failure
        if (isRedisFault(err)) throw err;
        results.push({ recipient, delivered: false, error: err instanceof Error ? err.message : String(err) });
      }
    }
    return results;
  }

  private async deliverOnce(
    root: string,
    box: { domain: string; user: string },
    messageId: string,
    body: () => Promise<AsyncIterable<Buffer>>,
  ): Promise<{ file?: string; duplicate?: boolean }> {
    const name = stableMaildirName(messageId, box.domain, box.user);
    const ledger = this.options.ledger;
    const state = ledger ? await ledger.begin(name) : 'new';
    if (state === 'done') return { duplicate: true };
    // an earlier attempt died somewhere between claim and done: its file may be there already
    const earlier = state === 'pending' ? await findInMaildir(root, box, name) : undefined;
    const delivery = earlier
      ? { file: earlier, duplicate: true }
      : await deliverToMaildir(root, box, await body(), {
          hostname: this.config.hostname,
          now: (this.options.now ?? Date.now)(),
          name,
        });
    await ledger?.done(name);
    return { file: delivery.file, duplicate: delivery.duplicate };
  }
}

async function* withTrace(traceFields: string, body: Readable): AsyncGenerator<Buffer> {
  if (traceFields) yield Buffer.from(traceFields, 'utf8');
  yield* body as AsyncIterable<Buffer>;
}
