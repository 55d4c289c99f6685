// Pull views: which parts of a message each `view=` value carries, and the two JSON-only views.
// `hash` and `signers` let a recipient decide before it downloads anything; `headers` and `text`
// are framed streams carrying a subset of the parts of `full`.
import { z } from 'zod';
import { type Manifest, mediaTypeOf } from './message-format.js';
import { type MessageSignature, messageSignatureSchema } from './message-signature.js';
import { messageId, positiveInt, sha256Digest } from './protocol-fields.js';

export const VIEWS = ['hash', 'signers', 'headers', 'text', 'full'] as const;
export type View = (typeof VIEWS)[number];
export type StreamView = Extract<View, 'headers' | 'text' | 'full'>;

export function isStreamView(view: View): view is StreamView {
  return view === 'headers' || view === 'text' || view === 'full';
}

/** The first `body` part whose media type is text/plain, if any. */
export function textPartIndex(manifest: Manifest): number | undefined {
  const index = manifest.parts.findIndex((p) => p.role === 'body' && mediaTypeOf(p) === 'text/plain');
  return index < 0 ? undefined : index;
}

/** Indices of the parts a stream view carries, ascending. */
export function partsForView(manifest: Manifest, view: StreamView): number[] {
  if (view === 'full') return manifest.parts.map((_, i) => i);
  if (view === 'headers') return [];
  const text = textPartIndex(manifest);
  return text === undefined ? [] : [text];
}

export const hashViewSchema = z.object({ id: messageId, version: positiveInt, manifest_digest: sha256Digest });
export const signersViewSchema = hashViewSchema.extend({ signatures: z.array(messageSignatureSchema).min(1) });
export type HashView = z.infer<typeof hashViewSchema>;
export type SignersView = z.infer<typeof signersViewSchema>;

export function hashView(manifest: Manifest, digest: string): HashView {
  return { id: manifest.id, version: manifest.version, manifest_digest: digest };
}

export function signersView(manifest: Manifest, digest: string, signatures: readonly MessageSignature[]): SignersView {
  return { ...hashView(manifest, digest), signatures: [...signatures] };
}
