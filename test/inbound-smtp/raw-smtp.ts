// A bare SMTP client on node:net for tests that need exact bytes on the wire (smuggling,
// pipelining, trickling): write anything, read whole replies, multi-line replies joined by \n.
import net from 'node:net';

export class RawSmtp {
  private buffered = '';
  private readonly replies: string[] = [];
  private waiters: (() => void)[] = [];
  private ended = false;
  greeting = '';

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => {
      this.buffered += text;
      let current: string[] = [];
      for (let nl = this.buffered.indexOf('\r\n'); nl >= 0; nl = this.buffered.indexOf('\r\n')) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 2);
        current.push(line);
        if (/^\d{3}( |$)/.test(line)) {
          this.replies.push(current.join('\n'));
          current = [];
        }
      }
      if (current.length > 0) this.buffered = `${current.join('\r\n')}\r\n${this.buffered}`;
      this.wake();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static async connect(port: number, localAddress = '127.0.0.1'): Promise<RawSmtp> {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new RawSmtp(socket);
    client.greeting = await client.reply();
    return client;
  }

  get isClosed(): boolean {
    return this.ended;
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  async command(line: string): Promise<string> {
    this.write(`${line}\r\n`);
    return this.reply();
  }

  /** The next complete reply; '' once the server has closed the connection. */
  async reply(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.replies.length === 0) {
      if (this.ended) return '';
      if (Date.now() > deadline) throw new Error('no SMTP reply in time');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.replies.shift()!;
  }

  async replyCount(n: number): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(await this.reply());
    return out;
  }

  /** Sends EHLO, MAIL and RCPT one by one and fails on anything but 250. */
  async envelope(from: string, to: readonly string[], helo = 'client.test'): Promise<void> {
    for (const line of [`EHLO ${helo}`, `MAIL FROM:<${from}>`, ...to.map((t) => `RCPT TO:<${t}>`)]) {
      const answer = await this.command(line);
      if (!answer.startsWith('250')) throw new Error(`${line} -> ${answer}`);
    }
  }

  async closed(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  end(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
