// One short conversation with Dovecot's auth service (auth-client or auth-userdb): opens the
// socket (a unix path or host:port), sends tab-separated lines and reads replies one line at a
// time, each bounded in length and the whole exchange bounded in time. Closed after each use.

import { connect, type Socket } from 'node:net';

/** Dovecot's own auth lines stay far below this; a longer one is a broken or hostile peer. */
const maxLineBytes = 16_384;
/** Unread lines held at once: a handshake is a handful (VERSION, MECH per mechanism, SPID, CUID, COOKIE, DONE). */
const maxUnreadLines = 64;

/** `/run/dovecot/auth-userdb` or `127.0.0.1:12345` (an inet_listener of `service auth`). */
export function dovecotTarget(where: string): { path: string } | { host: string; port: number } {
  if (where.startsWith('/')) return { path: where };
  const colon = where.lastIndexOf(':');
  const host = where.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(where.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new Error(`"${where}" is neither an absolute socket path nor host:port`);
  }
  return { host, port };
}

/** True when `value` may stand in one field of a line: Dovecot separates fields with tabs and lines with LF. */
export function fitsField(value: string): boolean {
  return !/[\x00-\x1f]/.test(value);
}

export class DovecotConnection {
  private buffered = '';
  private readonly lines: string[] = [];
  private waiting: ((line: string | Error) => void) | undefined;
  private failure: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.receive(chunk));
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new Error('dovecot closed the connection')));
  }

  /** Connects within `timeoutMs`, which then bounds the whole conversation: on expiry the socket is destroyed. */
  static open(where: string, timeoutMs: number): Promise<DovecotConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(dovecotTarget(where));
      const timer = setTimeout(
        () => socket.destroy(new Error(`dovecot at ${where} did not answer in ${timeoutMs} ms`)),
        timeoutMs,
      );
      timer.unref();
      socket.once('close', () => clearTimeout(timer));
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new DovecotConnection(socket));
      });
    });
  }

  send(...fields: string[]): void {
    this.socket.write(`${fields.join('\t')}\n`);
  }

  /** The next line's fields. */
  async read(): Promise<string[]> {
    const next = this.lines.shift();
    if (next !== undefined) return next.split('\t');
    if (this.failure) throw this.failure;
    const line = await new Promise<string | Error>((resolve) => {
      this.waiting = resolve;
    });
    if (line instanceof Error) throw line;
    return line.split('\t');
  }

  close(): void {
    this.socket.destroy();
  }

  private receive(chunk: string): void {
    this.buffered += chunk;
    let newline = this.buffered.indexOf('\n');
    while (newline >= 0) {
      this.deliver(this.buffered.slice(0, newline));
      this.buffered = this.buffered.slice(newline + 1);
      newline = this.buffered.indexOf('\n');
    }
    if (this.buffered.length > maxLineBytes) this.socket.destroy(new Error('dovecot sent an overlong line'));
  }

  private deliver(line: string): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting) waiting(line);
    else if (this.lines.push(line) > maxUnreadLines) this.socket.destroy(new Error('dovecot sent too many lines'));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.(this.failure);
  }
}
