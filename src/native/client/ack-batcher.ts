// Coalesces acks for one origin domain into one signed POST /pmtp/v1/acks (up to 1000 entries),
// with the same adaptive rule as notices: alone it leaves at once, under load the next batch fills
// while earlier ones are in flight. Each caller gets its own entry's result.
import { type AckBatch, type AckResponse, ackResponseSchema } from '../protocol/ack.js';
import { PATHS } from '../protocol/endpoints.js';
import type { PmtpClient } from './pmtp-client.js';

type AckEntry = AckBatch['acks'][number];
type AckResult = AckResponse['results'][number];

interface Waiting {
  readonly entry: AckEntry;
  resolve(result: AckResult): void;
  reject(err: unknown): void;
}

const MAX_ACKS = 1000;
const MAX_IN_FLIGHT = 4;

export class AckBatcher {
  private readonly pending = new Map<string, { items: Waiting[]; scheduled: boolean }>();
  private readonly inFlight = new Map<string, number>();

  constructor(
    private readonly client: PmtpClient,
    private readonly self: string,
  ) {}

  send(destination: string, entry: AckEntry): Promise<AckResult> {
    let batch = this.pending.get(destination);
    if (!batch) {
      batch = { items: [], scheduled: false };
      this.pending.set(destination, batch);
    }
    const result = new Promise<AckResult>((resolve, reject) => batch.items.push({ entry, resolve, reject }));
    if (batch.items.length >= MAX_ACKS) this.flush(destination);
    else if ((this.inFlight.get(destination) ?? 0) < MAX_IN_FLIGHT && !batch.scheduled) {
      batch.scheduled = true;
      setImmediate(() => this.flush(destination));
    }
    return result;
  }

  private flush(destination: string): void {
    const batch = this.pending.get(destination);
    if (!batch) return;
    this.pending.delete(destination);
    this.inFlight.set(destination, (this.inFlight.get(destination) ?? 0) + 1);
    void this.post(destination, batch.items).finally(() => {
      this.inFlight.set(destination, (this.inFlight.get(destination) ?? 1) - 1);
      const next = this.pending.get(destination);
      if (next && !next.scheduled) {
        next.scheduled = true;
        setImmediate(() => this.flush(destination));
      }
    });
  }

  private async post(destination: string, items: Waiting[]): Promise<void> {
    try {
      const body: AckBatch = { v: 1, origin: this.self, destination, acks: items.map((w) => w.entry) };
      const response = await this.client.json(
        { destination, method: 'POST', path: PATHS.acks, body, signedResponse: true },
        ackResponseSchema,
      );
      items.forEach((w, i) => {
        const r = response.results[i];
        if (r && r.id === w.entry.id && r.version === w.entry.version) w.resolve(r);
        else w.reject(new Error('ack answers do not match the acks sent'));
      });
    } catch (err) {
      for (const w of items) w.reject(err);
    }
  }
}
