// How far each admitted SMTP session has got, so a full listener knows whom to cut: the time of
// its last accepted MAIL, RCPT or AUTH or finished message, and in DATA its byte rate. A client
// that trickles bytes without completing anything stays stalled since its last real progress.

/** The part of smtp-server's DATA stream the rate is read from. */
export interface DataProgress {
  /** bytes received so far; smtp-server updates it while the message streams in */
  readonly byteLength: number;
  /** the final dot arrived: from here the client waits for us */
  readonly readableEnded: boolean;
}

interface Standing {
  progressAt: number;
  /** MAIL/RCPT/AUTH checks still running: the client waits for us meanwhile */
  pending: number;
  data: { readonly startedAt: number; readonly stream: DataProgress } | undefined;
}

/** DATA is judged by its rate only after this long: the first chunk may trail the 354 by a round trip. */
const dataJudgedAfterMs = 1000;

export class SessionProgress {
  private readonly sessions = new Map<string, Standing>();

  constructor(
    /** DATA slower than this is stalled (0: DATA is never stalled) */
    private readonly minDataBytesPerSecond: number,
    private readonly now: () => number = Date.now,
  ) {}

  admit(id: string): void {
    this.sessions.set(id, { progressAt: this.now(), pending: 0, data: undefined });
  }

  forget(id: string): void {
    this.sessions.delete(id);
  }

  /** Runs a MAIL, RCPT or AUTH check: never stalled while it runs, progress when `accepted`. */
  async during<T>(id: string, check: Promise<T>, accepted: (result: T) => boolean = () => true): Promise<T> {
    const standing = this.sessions.get(id);
    if (standing) standing.pending++;
    try {
      const result = await check;
      if (standing && accepted(result)) standing.progressAt = this.now();
      return result;
    } finally {
      if (standing) standing.pending--;
    }
  }

  dataStarted(id: string, stream: DataProgress): void {
    const standing = this.sessions.get(id);
    if (standing) standing.data = { startedAt: this.now(), stream };
  }

  /** The message was answered (accepted or not): a whole message is progress. */
  dataFinished(id: string): void {
    const standing = this.sessions.get(id);
    if (!standing) return;
    standing.data = undefined;
    standing.progressAt = this.now();
  }

  inData(id: string): boolean {
    return this.sessions.get(id)?.data !== undefined;
  }

  /**
   * Since when the session has made no progress, or undefined when it is not stalled: a check
   * is running, the message is in and awaits our reply, or DATA keeps up the minimum rate.
   * Sessions not admitted (still before the greeting, or already cut) are never stalled.
   */
  stalledSince(id: string): number | undefined {
    const standing = this.sessions.get(id);
    if (!standing || standing.pending > 0) return undefined;
    const data = standing.data;
    if (!data) return standing.progressAt;
    if (data.stream.readableEnded || this.minDataBytesPerSecond <= 0) return undefined;
    const elapsed = this.now() - data.startedAt;
    if (elapsed < dataJudgedAfterMs || data.stream.byteLength * 1000 >= this.minDataBytesPerSecond * elapsed)
      return undefined;
    return data.startedAt;
  }
}
