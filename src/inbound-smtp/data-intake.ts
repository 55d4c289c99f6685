// Streams one DATA phase into a spool draft through the hygiene/limits filter, leaving out forged
// Authentication-Results in our name, never holding the message in memory. Whatever goes wrong,
// the client's stream is read to its end first, so the reply comes after the final dot and the
// session stays usable (552 on SIZE, then a new MAIL).

import type { SMTPServerDataStream } from 'smtp-server';
import { MailbridgeError } from '../codes.js';
import { spoolWriteError } from '../queue/accept.js';
import { BodyTooLargeError, type SpoolDraft } from '../spool/spool.js';
import { type FieldTest, withoutFields } from '../translate/header-filter.js';
import { type DataFilterSettings, MessageDataFilter } from './data-filter.js';
import { DataRateGuard } from './data-rate-guard.js';

export interface IntakeSettings extends DataFilterSettings {
  readonly maxBytes: number;
  readonly minBytesPerSecond: number;
  readonly graceMs: number;
  /** header fields never stored: an Authentication-Results claiming our authserv-id came from outside */
  readonly forged: FieldTest;
}

export type IntakeResult =
  /** messageId: the first Message-ID field as sent (for the log line that ties it to the queue id) */
  | { readonly ok: true; readonly size: number; readonly messageId?: string }
  | { readonly ok: false; readonly error: MailbridgeError; readonly clientGone: boolean };

export async function receiveMessage(
  stream: SMTPServerDataStream,
  draft: SpoolDraft,
  settings: IntakeSettings,
  onTooSlow: () => void,
): Promise<IntakeResult> {
  const filter = new MessageDataFilter(settings);
  const guard = new DataRateGuard(settings.minBytesPerSecond, settings.graceMs);
  let clientGone = false;
  const finished = new Promise<void>((resolve) => {
    stream.once('end', resolve);
    stream.once('close', () => {
      // smtp-server destroys the stream when the client disconnects mid-message
      if (!stream.readableEnded) {
        clientGone = true;
        filter.destroy(new Error('client disconnected during DATA'));
      }
      resolve();
    });
  });
  stream.on('error', () => undefined); // reported through 'close'
  filter.on('error', () => undefined); // reported through writeBody
  stream.pipe(filter);
  stream.on('data', (chunk: Buffer) => guard.record(chunk.length));
  const rateTimer = setInterval(
    () => {
      if (!guard.tooSlow()) return;
      clearInterval(rateTimer);
      onTooSlow();
    },
    Math.min(1000, Math.max(100, settings.graceMs / 2)),
  );
  rateTimer.unref();

  let messageId: string | undefined;
  // the filter already reads every header field: note the Message-ID on the way, bounded
  const dropAndNote: FieldTest = (name, value) => {
    if (messageId === undefined && name.toLowerCase() === 'message-id')
      messageId = value.replace(/\s+/g, ' ').trim().slice(0, 200);
    return settings.forged(name, value);
  };
  let size = 0;
  let failure: unknown;
  try {
    size = await draft.writeBody(withoutFields(filter, dropAndNote), settings.maxBytes);
  } catch (err) {
    failure = err;
    stream.unpipe(filter);
    stream.resume(); // drain the rest; the reply waits for the final dot
  }
  await finished;
  clearInterval(rateTimer);

  if (stream.sizeExceeded || failure instanceof BodyTooLargeError) {
    return {
      ok: false,
      error: new MailbridgeError('message_too_large', `Message size exceeds fixed limit of ${settings.maxBytes} bytes`),
      clientGone,
    };
  }
  if (clientGone)
    return { ok: false, error: new MailbridgeError('internal_error', 'Client disconnected during DATA'), clientGone };
  if (failure instanceof MailbridgeError) return { ok: false, error: failure, clientGone };
  if (failure !== undefined) return { ok: false, error: spoolWriteError(failure), clientGone };
  return { ok: true, size, ...(messageId ? { messageId } : {}) };
}
