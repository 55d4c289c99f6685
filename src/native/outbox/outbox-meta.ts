// What an outbox spool entry carries beside its body (the concatenated part octets): the
// manifest and signatures, the manifest digest, the expiry and the recipients per destination.
import type { AcceptMeta } from '../../queue/accept.js';
import type { Manifest } from '../protocol/message-format.js';
import type { MessageSignature } from '../protocol/message-signature.js';

export interface OutboxFacts {
  readonly id: string;
  readonly version: number;
  readonly digest: string;
  readonly manifest: Manifest;
  readonly signatures: MessageSignature[];
  readonly expires: number;
  /** destination domain → its recipients only (Bcc privacy: a domain never sees another's). */
  readonly destinations: Record<string, string[]>;
  /** Sender tokens recipients gave us, sent with the notices (each names its recipient). */
  readonly tokens?: string[];
}

export interface OutboxMeta extends AcceptMeta {
  readonly kind: 'pmtp-outbox';
  readonly pmtp: OutboxFacts;
}

export function isOutboxMeta(meta: unknown): meta is OutboxMeta {
  return (meta as { kind?: unknown } | undefined)?.kind === 'pmtp-outbox';
}

/** Byte offset of each part inside the body. */
export function partOffsets(manifest: Manifest): number[] {
  const offsets: number[] = [];
  let at = 0;
  for (const part of manifest.parts) {
    offsets.push(at);
    at += part.length;
  }
  return offsets;
}
