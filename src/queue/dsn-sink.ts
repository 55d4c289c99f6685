// dsn-sink: puts a composed DSN into the outbound queue as a new message, through the acceptor
// like any other mail (spool first, then the job). It has a null sender and no authenticated
// client in its meta, so a DSN that fails is never answered with another DSN.

import { Readable } from 'node:stream';
import type { DsnSink } from '../mail/dsn.js';
import type { Spool } from '../spool/spool.js';
import type { MessageAcceptor } from './accept.js';

export function dsnViaAcceptor(spool: Spool, acceptor: MessageAcceptor, now: () => number = Date.now): DsnSink {
  return async (to, message) => {
    const draft = await spool.draft();
    await draft.writeBody(Readable.from([message])).catch(async (err: unknown) => {
      await draft.discard();
      throw err;
    });
    const entry = await acceptor.accept(draft, {
      kind: 'dsn',
      createdAt: new Date(now()).toISOString(),
      envelope: { mailFrom: '', rcptTo: [to] },
      queue: 'outbound',
    });
    return entry.queueId;
  };
}
