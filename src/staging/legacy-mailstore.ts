// A legacy domain for staging: a plain SMTP server with no PMTP, storing every accepted message
// in DIR/<domain>/Maildir/<user>/new/. It stands in for the rest of the internet on loopback.

import { Readable } from 'node:stream';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { deliverToMaildir } from '../mailbox/maildir.js';

export interface LegacyMailstore {
  readonly port: number;
  close(): Promise<void>;
}

export async function startLegacyMailstore(options: { domain: string; root: string; host: string; port: number; hostname?: string }): Promise<LegacyMailstore> {
  const server = new SMTPServer({
    name: options.hostname ?? `mx.${options.domain}`,
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    size: 50 * 1024 * 1024,
    logger: false,
    onRcptTo(address, _session, callback) {
      const domain = address.address.slice(address.address.lastIndexOf('@') + 1).toLowerCase();
      if (domain !== options.domain) return callback(Object.assign(new Error('5.7.1 Relay access denied'), { responseCode: 554 }));
      callback();
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
      const recipients = session.envelope.rcptTo.map((r) => r.address);
      // a stand-in for a remote site: holding one staging message in memory keeps it simple
      void (async () => {
        const chunks: Buffer[] = [];
        for await (const chunk of stream) chunks.push(chunk as Buffer);
        const message = Buffer.concat(chunks);
        for (const rcpt of recipients) {
          const at = rcpt.lastIndexOf('@');
          await deliverToMaildir(options.root, { domain: options.domain, user: rcpt.slice(0, at) }, Readable.from([message]), { hostname: `mx.${options.domain}`, now: Date.now() });
        }
      })().then(
        () => callback(null, 'Ok: stored'),
        (err: unknown) => callback(Object.assign(new Error(`4.3.0 ${String(err)}`), { responseCode: 451 })),
      );
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.server.address();
  return {
    port: typeof address === 'object' && address ? address.port : options.port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
