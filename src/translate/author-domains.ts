// The domains of a message's From: mailboxes, read from its header section as the bytes stream
// past: what picks the DKIM key a message is signed with (src/mail/domain-signers.ts).

import type { Readable } from 'node:stream';
import { authorAddresses } from './header-mapping.js';
import { HeaderSectionCollector, parseHeaderSection } from './header-section.js';

/** Every From: mailbox's domain (lower-case A-label; '' for an unusable one). Closes the stream. */
export async function authorDomains(message: Readable): Promise<string[]> {
  const collector = new HeaderSectionCollector();
  try {
    for await (const chunk of message as AsyncIterable<Buffer>) {
      collector.push(chunk);
      if (collector.complete) break;
    }
  } finally {
    message.destroy();
  }
  const fromValues = parseHeaderSection(collector.section())
    .filter((f) => f.name.toLowerCase() === 'from')
    .map((f) => f.value);
  return authorAddresses(fromValues).map((a) => a.slice(a.lastIndexOf('@') + 1));
}
