// Coalesces notices for one destination into batches of up to the peer's max_batch notices and
// max_batch_recipients recipients (learnt from its server info): each caller awaits its own notice's result while one signed POST carries many.
// Adaptive, like Nagle: with no request in flight a notice leaves at once; while requests are in
// flight the next batch fills up. (id, version) never repeats in a batch.

import { PATHS } from '../protocol/endpoints.js';
import { batchResponseSchema, type Notice, type NoticeResult } from '../protocol/notice.js';
import type { PmtpClient } from './pmtp-client.js';

interface Waiting {
  readonly notice: Notice;
  resolve(result: NoticeResult): void;
  reject(err: unknown): void;
}

interface Pending {
  readonly destination: string;
  readonly endpoint: string;
  readonly items: Waiting[];
  readonly keys: Set<string>;
  max: number;
  maxRecipients: number;
  recipients: number;
  scheduled: boolean;
}

const MAX_IN_FLIGHT = 2;

export class NoticeBatcher {
  private readonly pending = new Map<string, Pending>();
  private readonly inFlight = new Map<string, number>();

  constructor(
    private readonly client: PmtpClient,
    private readonly origin: string,
  ) {}

  async send(destination: string, endpoint: string, notice: Notice): Promise<NoticeResult> {
    const info = await this.client.serverInfo(destination, endpoint);
    const slot = `${destination} ${endpoint}`;
    const key = `${notice.id} ${notice.version}`;
    let batch = this.pending.get(slot);
    // a repeated (id, version), or recipients past the peer's limit, start the next batch
    if (batch && (batch.keys.has(key) || batch.recipients + notice.recipients.length > batch.maxRecipients)) {
      this.flush(slot);
      batch = undefined;
    }
    if (!batch) {
      batch = {
        destination,
        endpoint,
        items: [],
        keys: new Set(),
        max: info.max_batch,
        maxRecipients: info.max_batch_recipients ?? info.max_recipients,
        recipients: 0,
        scheduled: false,
      };
      this.pending.set(slot, batch);
    }
    const result = new Promise<NoticeResult>((resolve, reject) => batch.items.push({ notice, resolve, reject }));
    batch.keys.add(key);
    batch.recipients += notice.recipients.length;
    if (batch.items.length >= batch.max) this.flush(slot);
    else if ((this.inFlight.get(slot) ?? 0) < MAX_IN_FLIGHT && !batch.scheduled) {
      // let callers of this same turn of the event loop join, then go
      batch.scheduled = true;
      setImmediate(() => this.flush(slot));
    }
    return result;
  }

  private flush(slot: string): void {
    const batch = this.pending.get(slot);
    if (!batch) return;
    this.pending.delete(slot);
    this.inFlight.set(slot, (this.inFlight.get(slot) ?? 0) + 1);
    void this.post(batch).finally(() => {
      this.inFlight.set(slot, (this.inFlight.get(slot) ?? 1) - 1);
      const next = this.pending.get(slot);
      if (next && !next.scheduled) {
        next.scheduled = true;
        setImmediate(() => this.flush(slot));
      }
    });
  }

  private async post(batch: Pending): Promise<void> {
    try {
      const response = await this.client.json(
        {
          destination: batch.destination,
          endpoint: batch.endpoint,
          method: 'POST',
          path: PATHS.notices,
          body: {
            v: 1,
            origin: this.origin,
            destination: batch.destination,
            notices: batch.items.map((w) => w.notice),
          },
          signedResponse: true,
        },
        batchResponseSchema,
      );
      if (response.results.length !== batch.items.length)
        throw new Error('notice answer does not have one result per notice');
      batch.items.forEach((w, i) => {
        const result = response.results[i];
        if (result && result.id === w.notice.id && result.version === w.notice.version) w.resolve(result);
        else w.reject(new Error('notice answers are out of order'));
      });
    } catch (err) {
      for (const w of batch.items) w.reject(err);
    }
  }
}
