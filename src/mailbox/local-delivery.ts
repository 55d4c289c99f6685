// Delivery into native domains' mailboxes: the bytes a mail client reads, with our trace fields
// on top, one Maildir file per recipient. Used by the inbound router and the PMTP pull stage.

import type { Readable } from 'node:stream';
import type { Config } from '../config/schema.js';
import { deliverToMaildir, type MaildirDelivery } from './maildir.js';

export interface LocalRecipientResult {
  readonly recipient: string;
  readonly delivered: boolean;
  readonly file?: string;
  readonly error?: string;
}

export class LocalMailboxes {
  constructor(
    private readonly config: Pick<Config, 'hostname' | 'mailbox' | 'domains'>,
    private readonly now: () => number = Date.now,
  ) {}

  hosts(domain: string): boolean {
    return this.config.domains.native.includes(domain.toLowerCase());
  }

  /**
   * Writes `traceFields` then the message to each recipient's Maildir. `open` is called once per
   * recipient so a large message streams from disk every time instead of sitting in memory.
   */
  async deliver(recipients: readonly string[], traceFields: string, open: () => Promise<Readable>): Promise<LocalRecipientResult[]> {
    const root = this.config.mailbox.maildir_root;
    const results: LocalRecipientResult[] = [];
    for (const recipient of recipients) {
      const at = recipient.lastIndexOf('@');
      const user = recipient.slice(0, at);
      const domain = recipient.slice(at + 1).toLowerCase();
      if (!root) {
        results.push({ recipient, delivered: false, error: 'mailbox.maildir_root is not configured' });
        continue;
      }
      try {
        const body = await open();
        const delivery: MaildirDelivery = await deliverToMaildir(root, { domain, user }, withTrace(traceFields, body), { hostname: this.config.hostname, now: this.now() });
        results.push({ recipient, delivered: true, file: delivery.file });
      } catch (err) {
        results.push({ recipient, delivered: false, error: err instanceof Error ? err.message : String(err) });
      }
    }
    return results;
  }
}

async function* withTrace(traceFields: string, body: Readable): AsyncGenerator<Buffer> {
  if (traceFields) yield Buffer.from(traceFields, 'utf8');
  yield* body as AsyncIterable<Buffer>;
}
