// What a received (pulled) PMTP message's spool entry carries beside its body (the part octets
// in order), and how to stream one part back out of it for local delivery.
import type { Readable } from 'node:stream';
import { Readable as ReadableStream } from 'node:stream';
import type { AcceptMeta } from '../../queue/accept.js';
import type { Spool } from '../../spool/spool.js';
import type { Manifest } from '../protocol/message-format.js';
import type { MessageSignature } from '../protocol/message-signature.js';
import { partOffsets } from '../outbox/outbox-meta.js';

export interface ReceivedMeta extends AcceptMeta {
  readonly kind: 'pmtp-received';
  readonly pmtp: {
    readonly origin: string;
    readonly id: string;
    readonly version: number;
    readonly digest: string;
    readonly manifest: Manifest;
    readonly signatures: MessageSignature[];
  };
}

export function isReceivedMeta(meta: unknown): meta is ReceivedMeta {
  return (meta as { kind?: unknown } | undefined)?.kind === 'pmtp-received';
}

export async function partStream(spool: Spool, queueId: string, manifest: Manifest, index: number): Promise<Readable> {
  const part = manifest.parts[index];
  if (!part) throw new RangeError(`no part ${index}`);
  if (part.length === 0) return ReadableStream.from([]);
  const start = partOffsets(manifest)[index] ?? 0;
  return (await spool.openBody(queueId, { start, end: start + part.length - 1 })).stream;
}
