// A legacy domain for staging: a plain SMTP server with no PMTP, storing every accepted message
// in DIR/<domain>/Maildir/<user>/new/. It stands in for the rest of the internet on loopback.
// Like a careful receiving site it keeps one copy per Message-ID and mailbox: SMTP relaying is at-least-once.

import { Readable } from 'node:stream';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { deliverToMaildir, findInMaildir, stableMaildirName } from '../mailbox/maildir.js';

export interface LegacyMailstore {
  readonly port: number;
  /** copies accepted since start: `stored` landed, `duplicates` repeated a Message-ID already in that mailbox */
  counts(): { stored: number; duplicates: number };
  close(): Promise<void>;
}

export async function startLegacyMailstore(options: {
  domain: string;
  root: string;
  host: string;
  port: number;
  hostname?: string;
}): Promise<LegacyMailstore> {
  const counts = { stored: 0, duplicates: 0 };
  const hostname = options.hostname ?? `mx.${options.domain}`;
  const store = async (user: string, message: Buffer): Promise<void> => {
    const box = { domain: options.domain, user };
    const name = stableName(message, options.domain, user);
    // a mail client may have moved the first copy to cur/ already
    const earlier = name ? await findInMaildir(options.root, box, name) : undefined;
    const delivery = earlier
      ? { duplicate: true }
      : await deliverToMaildir(options.root, box, Readable.from([message]), { hostname, now: Date.now(), name });
    if (delivery.duplicate) counts.duplicates++;
    else counts.stored++;
  };
  const server = new SMTPServer({
    name: hostname,
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    size: 50 * 1024 * 1024,
    logger: false,
    // a site going down drops its open sessions within a second instead of smtp-server's 30
    closeTimeout: 1000,
    onRcptTo(address, _session, callback) {
      const domain = address.address.slice(address.address.lastIndexOf('@') + 1).toLowerCase();
      if (domain !== options.domain)
        return callback(Object.assign(new Error('5.7.1 Relay access denied'), { responseCode: 554 }));
      callback();
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
      const recipients = session.envelope.rcptTo.map((r) => r.address);
      // a stand-in for a remote site: holding one staging message in memory keeps it simple
      void (async () => {
        const chunks: Buffer[] = [];
        for await (const chunk of stream) chunks.push(chunk as Buffer);
        const message = Buffer.concat(chunks);
        for (const rcpt of recipients) await store(rcpt.slice(0, rcpt.lastIndexOf('@')), message);
      })().then(
        () => callback(null, 'Ok: stored'),
        (err: unknown) => callback(Object.assign(new Error(`4.3.0 ${String(err)}`), { responseCode: 451 })),
      );
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // smtp-server reports a client's reset connection here; a sender dying mid-session is its own business
  server.on('error', () => undefined);
  const address = server.server.address();
  return {
    port: typeof address === 'object' && address ? address.port : options.port,
    counts: () => ({ ...counts }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * The Maildir name for a message with a Message-ID: the same for every copy, so the second copy's
 * link() finds the first. Without a Message-ID every copy is kept.
 */
function stableName(message: Buffer, domain: string, user: string): string | undefined {
  const end = message.indexOf('\r\n\r\n');
  const header = message
    .subarray(0, end < 0 ? message.length : end)
    .toString('latin1')
    .replace(/\r\n[ \t]+/g, ' ');
  const messageId = /^Message-ID:[ \t]*(\S+)/im.exec(header)?.[1];
  if (!messageId) return undefined;
  return stableMaildirName(messageId, domain, user);
}
