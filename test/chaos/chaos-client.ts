// The sending side of the chaos test: a few SMTP connections per path, each sending numbered
// messages one after another and logging every attempt. A message is retried until it gets a
// 250 or a 5xx; one whose connection was cut after its data went out is resent and marked so.
import { createWriteStream, type WriteStream } from 'node:fs';
import { RawSmtp } from '../inbound-smtp/raw-smtp.js';

export type PathName = 'smtp-native' | 'pmtp' | 'smtp-legacy';

export interface ChaosMessage {
  readonly n: number;
  readonly path: PathName;
  readonly messageId: string;
  readonly from: string;
  readonly to: string;
}

export interface PathRoute {
  readonly port: number;
  readonly auth?: { user: string; password: string };
}

type Outcome = { kind: 'accepted'; queueId: string } | { kind: 'deferred' | 'rejected' | 'cut'; reply: string };

export class ChaosClient {
  /** messages numbered at or above this wait: the fault schedule releases them */
  limit = Number.POSITIVE_INFINITY;
  /** one-shot: called with half the data sent, the rest follows once it resolves */
  midData: (() => Promise<void>) | undefined;
  /** one-shot: called as soon as a 250 is read */
  onAccepted: (() => void) | undefined;

  readonly accepted = new Map<number, string>();
  readonly rejected = new Map<number, string>();
  /** messages whose connection died after their data was sent and before a reply: resent */
  readonly resent = new Set<number>();
  private readonly pending = new Map<PathName, number[]>();
  /** messages per path without a 250 or a 5xx yet */
  private readonly open = new Map<PathName, number>();
  private readonly log: WriteStream;

  constructor(
    private readonly messages: readonly ChaosMessage[],
    private readonly routes: Record<PathName, PathRoute>,
    logFile: string,
  ) {
    for (const m of messages) {
      if (!this.pending.has(m.path)) this.pending.set(m.path, []);
      this.pending.get(m.path)!.push(m.n);
      this.open.set(m.path, (this.open.get(m.path) ?? 0) + 1);
    }
    this.log = createWriteStream(logFile, { flags: 'a' });
  }

  get finished(): number {
    return this.accepted.size + this.rejected.size;
  }

  /** Resolves once every message has a 250 or a 5xx. */
  async run(connectionsPerPath: number): Promise<void> {
    const paths = [...this.pending.keys()];
    await Promise.all(paths.flatMap((p) => Array.from({ length: connectionsPerPath }, () => this.connection(p))));
    await new Promise<void>((resolve) => this.log.end(resolve));
  }

  private pathDone(path: PathName): boolean {
    return this.open.get(path) === 0;
  }

  private take(path: PathName): number | undefined {
    const queue = this.pending.get(path)!;
    const i = queue.findIndex((n) => n < this.limit);
    return i < 0 ? undefined : queue.splice(i, 1)[0];
  }

  /** A retry goes back to the front of its path after a short pause. */
  private putBack(m: ChaosMessage, delayMs: number): void {
    setTimeout(() => this.pending.get(m.path)!.unshift(m.n), delayMs);
  }

  private async connection(path: PathName): Promise<void> {
    const route = this.routes[path];
    while (!this.pathDone(path)) {
      const c = await RawSmtp.connect(route.port).catch(() => undefined);
      if (!c || !(await this.greet(c, route))) {
        c?.end();
        await pause(100);
        continue;
      }
      while (!c.isClosed && !this.pathDone(path)) {
        const n = this.take(path);
        if (n === undefined) {
          await pause(20);
          continue;
        }
        const m = this.messages[n]!;
        const outcome = await this.send(c, m);
        this.log.write(`${JSON.stringify({ t: Date.now(), n, messageId: m.messageId, path, ...outcome })}\n`);
        if (outcome.kind === 'accepted' || outcome.kind === 'rejected') this.open.set(path, this.open.get(path)! - 1);
        if (outcome.kind === 'accepted') {
          this.accepted.set(n, outcome.queueId);
          const hook = this.onAccepted;
          this.onAccepted = undefined;
          hook?.();
          continue;
        }
        if (outcome.kind === 'rejected') {
          this.rejected.set(n, outcome.reply);
          c.end();
          break;
        }
        // deferred or cut: a fresh connection, and the message again a little later
        this.putBack(m, outcome.kind === 'deferred' ? 200 : 50);
        c.end();
        break;
      }
    }
  }

  private async greet(c: RawSmtp, route: PathRoute): Promise<boolean> {
    try {
      if (!c.greeting.startsWith('220')) return false;
      if (!(await c.command('EHLO chaos-client.legacy.test')).startsWith('250')) return false;
      if (!route.auth) return true;
      const plain = Buffer.from(`\0${route.auth.user}\0${route.auth.password}`).toString('base64');
      return (await c.command(`AUTH PLAIN ${plain}`)).startsWith('235');
    } catch {
      return false;
    }
  }

  private async send(c: RawSmtp, m: ChaosMessage): Promise<Outcome> {
    let dataSent = false;
    try {
      for (const [line, want] of [
        [`MAIL FROM:<${m.from}>`, '250'],
        [`RCPT TO:<${m.to}>`, '250'],
        ['DATA', '354'],
      ] as const) {
        const reply = await c.command(line);
        if (!reply.startsWith(want)) return classify(reply);
      }
      const text = messageText(m);
      const half = Math.floor(text.length / 2);
      dataSent = true;
      c.write(text.slice(0, half));
      const hook = this.midData;
      this.midData = undefined;
      if (hook) await hook();
      c.write(text.slice(half));
      const reply = await c.reply(30_000);
      const queueId = /^250 2\.0\.0 Ok: queued as (\S+)$/.exec(reply)?.[1];
      if (queueId) return { kind: 'accepted', queueId };
      if (reply === '') this.resent.add(m.n);
      return classify(reply);
    } catch (err) {
      if (dataSent) this.resent.add(m.n);
      return { kind: 'cut', reply: String(err) };
    }
  }
}

function classify(reply: string): Outcome {
  if (reply === '') return { kind: 'cut', reply };
  if (reply.startsWith('4')) return { kind: 'deferred', reply };
  return { kind: 'rejected', reply };
}

function messageText(m: ChaosMessage): string {
  const header = [
    `From: <${m.from}>`,
    `To: <${m.to}>`,
    `Subject: chaos ${m.n}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: ${m.messageId}`,
  ];
  const body = Array.from({ length: 12 }, (_, i) => `line ${i} of message ${m.n} ${'x'.repeat(60)}`);
  return `${[...header, '', ...body].join('\r\n')}\r\n.\r\n`;
}

function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
