// The hand-off to mailboxes hosted here, as the stages that deliver see it: one Maildir copy per
// recipient, written once per (message, mailbox) however often a job retries. src/mailbox
// implements it; src/gateway.ts passes it to the dispatch stage, the PMTP pull side and DSNs.

import type { Readable } from 'node:stream';

export interface MailboxRecipientResult {
  readonly recipient: string;
  readonly delivered: boolean;
  readonly file?: string;
  /** an earlier attempt had delivered it; nothing was written */
  readonly duplicate?: boolean;
  readonly error?: string;
}

export interface MailboxDelivery {
  /** true when `domain`'s mail is stored in a Maildir here (`domains.mailbox`) */
  hosts(domain: string): boolean;
  /**
   * Writes `traceFields` then the message to each recipient's Maildir; `open` gives a fresh stream
   * per recipient. `messageId` names the message for good: retries must pass the same.
   */
  deliver(
    recipients: readonly string[],
    traceFields: string,
    open: () => Promise<Readable>,
    messageId: string,
  ): Promise<MailboxRecipientResult[]>;
}
