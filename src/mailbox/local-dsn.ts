// DSNs for senders hosted here go straight into their own Maildir (the outbound stage would look
// up an MX for our own domain); DSNs for anyone else take the usual outbound path.

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { DsnSink } from '../mail/dsn.js';
import type { MailboxDelivery } from '../mail/mailbox-delivery.js';

export function dsnToLocalMailbox(mailboxes: MailboxDelivery, elsewhere: DsnSink): DsnSink {
  return async (to, message) => {
    const domain = to.slice(to.lastIndexOf('@') + 1).toLowerCase();
    if (!mailboxes.hosts(domain)) return elsewhere(to, message);
    // the DSN's own bytes name it, so a retried DSN is stored once
    const [result] = await mailboxes.deliver(
      [to],
      '',
      async () => Readable.from([message]),
      `dsn-${createHash('sha256').update(message).digest('hex')}`,
    );
    if (!result?.delivered) throw new Error(`DSN to ${to} not stored: ${result?.error ?? 'unknown error'}`);
    return 'maildir';
  };
}
