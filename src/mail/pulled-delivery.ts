// The hand-off from a completed pull to whoever stores mail locally (Maildir for `domains.mailbox`,
// outbound SMTP for Postfix domains): implemented by the gateway, injected into the pull worker.
import type { Readable } from 'node:stream';
import type { StatusCode } from '../codes.js';
import type { TrustClass } from '../native/protocol/first-contact-policy.js';
import type { Manifest } from '../native/protocol/message-format.js';
import type { MessageSignature } from '../native/protocol/message-signature.js';

export interface LocalDeliveryRequest {
  /** Spool entry of the received message (body = concatenated part octets). */
  readonly queueId: string;
  /** The verified origin domain that served it. */
  readonly origin: string;
  /** The sender its notice named: an author the origin answers for must be this one (§6.4). */
  readonly noticeSender: string;
  readonly manifest: Manifest;
  readonly signatures: readonly MessageSignature[];
  /** Recipients sharing this trust class (one call per class). */
  readonly recipients: readonly string[];
  /** How the sender got past first contact; record it with the message (PMTP-Trust). */
  readonly trustClass: TrustClass;
  /** A fresh stream of part `index`'s octets (verified against the manifest digest). */
  openPart(index: number): Promise<Readable>;
}

export interface LocalDeliveryResult {
  readonly recipient: string;
  /** delivered and rejected are final; deferred makes the pull job retry (delivered ones are kept). */
  readonly status: 'delivered' | 'rejected' | 'deferred';
  readonly code?: StatusCode;
  readonly text?: string;
}

export interface LocalDelivery {
  deliver(request: LocalDeliveryRequest): Promise<LocalDeliveryResult[]>;
}
