// Slowloris defence for DATA: after a grace period the client must have sent at least
// `minBytesPerSecond` for every second since. The idle timeout alone is reset by each
// trickled byte, so it cannot stop a client that sends one byte every few seconds.

export class DataRateGuard {
  private bytes = 0;
  private readonly startedAt: number;

  constructor(
    private readonly minBytesPerSecond: number,
    private readonly graceMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = now();
  }

  record(bytes: number): void {
    this.bytes += bytes;
  }

  tooSlow(): boolean {
    if (this.minBytesPerSecond <= 0) return false;
    const judged = this.now() - this.startedAt - this.graceMs;
    return judged > 0 && this.bytes < (this.minBytesPerSecond * judged) / 1000;
  }
}
