// The PMTP/1 message model: headers, parts, SMTP provenance and the manifest that signatures cover.
// A manifest describes a message completely except for part octets, which it pins by length and
// SHA-256; its digest is SHA-256 of its canonical JSON bytes.
import { z } from 'zod';
import { sha256Base64Url } from './bytes.js';
import { canonicalBytes } from './canonical-json.js';
import { describeIssue, fail, ok, type Result } from './protocol-error.js';
import { address, domain, messageId, positiveInt, sha256Digest, unixTime } from './protocol-fields.js';
import { critField, type DefinedMembers, extensionProblem } from './versioned-object.js';

export const MAX_HEADERS = 1000;
export const MAX_HEADER_VALUE_BYTES = 65536;
export const MAX_PARTS = 1000;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const wellFormed = (s: string) => !LONE_SURROGATE.test(s);

/** RFC 5322 field names: printable ASCII except ':'. */
const headerName = z.string().regex(/^[!-9;-~]{1,128}$/, 'not a header field name');
/** UTF-8, one line: never RFC 2047 encoded words, never CR, LF or NUL. */
const headerValue = z
  .string()
  .refine((s) => !/[\r\n\0]/.test(s), 'header value contains CR, LF or NUL')
  .refine(wellFormed, 'header value is not well-formed Unicode')
  .refine((s) => Buffer.byteLength(s, 'utf8') <= MAX_HEADER_VALUE_BYTES, 'header value too long');

export const PART_ROLES = ['body', 'alternative', 'related', 'attachment', 'original-rfc5322'] as const;
export type PartRole = (typeof PART_ROLES)[number];

const mediaType = z
  .string()
  .max(256)
  .regex(/^[A-Za-z0-9][\w!#$&^.+-]*\/[A-Za-z0-9][\w!#$&^.+-]*(;[^\r\n\0]*)?$/, 'not a media type');
/** A bare file name: no directories, no controls, never "." or "..". */
const filename = z
  .string()
  .min(1)
  .max(255)
  .refine((s) => !/[\u0000-\u001f\u007f/\\]/.test(s) && s !== '.' && s !== '..', 'unsafe file name')
  .refine(wellFormed, 'file name is not well-formed Unicode');

export const partSchema = z.looseObject({
  type: mediaType,
  length: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  sha256: sha256Digest,
  disposition: z.enum(['inline', 'attachment']).optional(),
  filename: filename.optional(),
  role: z.enum(PART_ROLES).optional(),
});

export const VERDICTS = ['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror', 'policy'] as const;
const verdict = z.enum(VERDICTS);

/** What the gateway saw when the message arrived by SMTP; signed by the gateway as origin. */
export const provenanceSchema = z.looseObject({
  spf: z.looseObject({ result: verdict, domain: z.string().max(253) }),
  dkim: z.array(z.looseObject({ result: verdict, domain: z.string().max(253), selector: z.string().max(253) })).max(50),
  dmarc: z.looseObject({ result: verdict, domain: z.string().max(253) }),
  arc: z.looseObject({ result: verdict }),
  client_ip: z.union([z.ipv4(), z.ipv6()]),
  helo: z.string().max(255),
  /** SMTP MAIL FROM; "" for the null reverse-path. */
  mail_from: z.union([z.literal(''), address]),
  /** Only the recipients this manifest is notified to, never those of other domains (Bcc privacy). */
  rcpt_to: z.array(address).min(1).max(1000),
  received_at: unixTime,
  gateway: domain,
});

export const manifestSchema = z.looseObject({
  v: z.literal(1),
  crit: critField.optional(),
  id: messageId,
  version: positiveInt,
  from: address,
  headers: z.array(z.tuple([headerName, headerValue])).max(MAX_HEADERS),
  parts: z.array(partSchema).max(MAX_PARTS),
  provenance: provenanceSchema.optional(),
  created: unixTime,
});

const MANIFEST_MEMBERS = Object.keys(manifestSchema.shape);

export type Part = DefinedMembers<typeof partSchema.shape>;
export type Provenance = DefinedMembers<typeof provenanceSchema.shape>;
export type Manifest = DefinedMembers<typeof manifestSchema.shape>;
export type Header = Manifest['headers'][number];

/** Rules that span fields, which a schema cannot say. */
function crossFieldProblem(manifest: Manifest): string | undefined {
  if (manifest.headers.some(([name]) => name.toLowerCase() === 'bcc')) return 'Bcc must never be in a manifest';
  const originals = manifest.parts.filter((p) => p.role === 'original-rfc5322');
  if (originals.length > 1) return 'at most one original-rfc5322 part';
  if (originals.length === 1 && !manifest.provenance) return 'original-rfc5322 part requires provenance';
  const total = manifest.parts.reduce((sum, p) => sum + p.length, 0);
  if (!Number.isSafeInteger(total)) return 'total part length exceeds 2^53-1';
  return undefined;
}

export function parseManifest(
  value: unknown,
): Result<Manifest, 'manifest_invalid' | 'version_unsupported' | 'critical_member_unknown'> {
  const problem = extensionProblem(value, MANIFEST_MEMBERS);
  if (problem) return fail(problem.kind === 'malformed' ? 'manifest_invalid' : problem.kind, problem.detail);
  const parsed = manifestSchema.safeParse(value);
  if (!parsed.success) return fail('manifest_invalid', describeIssue(parsed.error));
  const crossField = crossFieldProblem(parsed.data);
  return crossField ? fail('manifest_invalid', crossField) : ok(parsed.data);
}

export function manifestBytes(manifest: Manifest): Buffer {
  return canonicalBytes(manifest);
}

/** base64url(SHA-256(canonical manifest bytes)): the value message signatures and notices name. */
export function manifestDigest(manifest: Manifest): string {
  return sha256Base64Url(manifestBytes(manifest));
}

/** Describes a part's octets: computes length and digest so they cannot disagree with the data. */
export function describePart(data: Uint8Array, meta: Omit<Part, 'length' | 'sha256'>): Part {
  return { ...meta, length: data.length, sha256: sha256Base64Url(data) };
}

/** Sum of the declared part lengths: the `size` a notice announces. */
export function contentSize(manifest: Manifest): number {
  return manifest.parts.reduce((sum, p) => sum + p.length, 0);
}

/** Lowercase `type/subtype` without parameters. */
export function mediaTypeOf(part: Part): string {
  return (part.type.split(';')[0] ?? '').trim().toLowerCase();
}

/** Byte offset of each part inside a body that holds the parts' octets in manifest order. */
export function partOffsets(manifest: Manifest): number[] {
  const offsets: number[] = [];
  let at = 0;
  for (const part of manifest.parts) {
    offsets.push(at);
    at += part.length;
  }
  return offsets;
}
