// The socket in front of a listener with `proxy_protocol`: accepts only the configured proxies,
// reads their PROXY header (v1 or v2, bounded in size and time), and hands the connection to
// smtp-server with the header rewritten as one v1 line, which smtp-server's useProxy then reads.

import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../log.js';
import type { ClientList } from './client-access.js';
import { type ProxiedClient, readProxyHeader, v2MaxBytes } from './proxy-header.js';

/** A proxy sends its header at once; a peer that does not is no proxy of ours. */
const headerTimeoutMs = 10_000;

/**
 * A server to listen on instead of smtp-server's own: each accepted connection reaches
 * `target` (smtp-server's net.Server) as a 'connection' event once its header has been read.
 */
export function proxyFront(target: Server, proxies: ClientList, log: Pick<Logger, 'info'>): Server {
  return createServer((socket) => {
    const peer = (socket.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.)/i, '');
    if (!proxies.has(peer)) {
      log.info({ peer }, 'connection to a PROXY listener from an address not in proxy_from: closed');
      socket.destroy();
      return;
    }
    readHeader(socket).then(
      ({ client, rest }) => {
        socket.pause();
        socket.unshift(Buffer.concat([Buffer.from(v1Line(client), 'latin1'), rest]));
        target.emit('connection', socket);
      },
      (err: Error) => {
        log.info({ peer, reason: err.message }, 'PROXY header refused');
        socket.destroy();
      },
    );
  });
}

function readHeader(socket: Socket): Promise<{ client: ProxiedClient | undefined; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let received = Buffer.alloc(0);
    const finish = (outcome: () => void): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onGone);
      socket.off('end', onGone);
      outcome();
    };
    const onData = (chunk: Buffer): void => {
      received = Buffer.concat([received, chunk]);
      const result = readProxyHeader(received);
      if (result.kind === 'incomplete') {
        if (received.length > v2MaxBytes) finish(() => reject(new Error('header too long')));
        return;
      }
      if (result.kind === 'invalid') return finish(() => reject(new Error(result.reason)));
      finish(() => resolve({ client: result.client, rest: received.subarray(result.length) }));
    };
    const onGone = (): void => finish(() => reject(new Error('connection closed before its PROXY header')));
    const timer = setTimeout(() => finish(() => reject(new Error('no PROXY header in time'))), headerTimeoutMs);
    socket.on('data', onData);
    socket.on('error', onGone);
    socket.on('end', onGone);
  });
}

/** The v1 form smtp-server reads: its source address becomes the session's remoteAddress. */
function v1Line(client: ProxiedClient | undefined): string {
  if (!client) return 'PROXY UNKNOWN\r\n';
  const family = client.ip.includes(':') ? 'TCP6' : 'TCP4';
  const destination = client.destinationIp.includes(':') === client.ip.includes(':') ? client.destinationIp : client.ip;
  return `PROXY ${family} ${client.ip} ${destination} ${client.port} ${client.destinationPort}\r\n`;
}
