// Asks Dovecot's user database whether a recipient exists, over the auth-userdb socket (the
// master protocol: VERSION, then USER <id> <name> service=smtp). USER means yes, NOTFOUND no;
// FAIL, a broken line or a timeout is "could not tell", which the caller answers with a 4xx.

import { DovecotConnection, fitsField } from './dovecot-connection.js';

export type LookupAnswer = 'exists' | 'unknown' | 'unavailable';

export interface DovecotUserdbOptions {
  /** the auth-userdb socket: an absolute path or host:port */
  readonly socket: string;
  readonly timeoutMs: number;
}

/** The master protocol version we speak (major 1; minor 0 needs nothing newer). */
const protocolVersion = ['VERSION', '1', '0'];

export async function dovecotUserExists(user: string, options: DovecotUserdbOptions): Promise<LookupAnswer> {
  // cannot be sent as one field; such a name is no Dovecot user either
  if (!fitsField(user) || user === '') return 'unknown';
  let connection: DovecotConnection | undefined;
  try {
    connection = await DovecotConnection.open(options.socket, options.timeoutMs);
    connection.send(...protocolVersion);
    const [hello, major] = await connection.read();
    if (hello !== 'VERSION' || major !== '1') return 'unavailable';
    connection.send('USER', '1', user, 'service=smtp');
    for (;;) {
      const [verb, id] = await connection.read();
      // SPID and any other handshake line may come before our answer
      if (id !== '1') continue;
      if (verb === 'USER') return 'exists';
      if (verb === 'NOTFOUND') return 'unknown';
      return 'unavailable';
    }
  } catch {
    return 'unavailable';
  } finally {
    connection?.close();
  }
}
