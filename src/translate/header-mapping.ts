// header-mapping: RFC 5322 fields → PMTP manifest headers, and the manifest `from` address. Pure.
// Order is kept; Bcc never enters a manifest; the MIME structure fields are left out because the
// parts replace the structure they describe (the original part still has every byte).
import { domainToASCII } from 'node:url';
import addressparser from 'nodemailer/lib/addressparser';
import { isAddress } from '../native/protocol/address.js';
import type { Header } from '../native/protocol/message-format.js';
import { decodeStructured, decodeWords } from './encoded-words.js';
import type { RawField } from './header-section.js';

const NEVER_COPIED = new Set([
  'bcc',
  'resent-bcc',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
  'content-disposition',
  'content-id',
]);

/** Bcc (privacy) and the MIME structure fields (parts replace them): never copied between the two forms. */
export function isNeverCopied(name: string): boolean {
  return NEVER_COPIED.has(name.toLowerCase());
}

export const ADDRESS_FIELDS = new Set([
  'from',
  'sender',
  'reply-to',
  'to',
  'cc',
  'resent-from',
  'resent-sender',
  'resent-to',
  'resent-cc',
  'disposition-notification-to',
]);

/** Structured fields where an encoded word is not allowed, so text that looks like one is data. */
export const VERBATIM_FIELDS = new Set([
  'date',
  'resent-date',
  'message-id',
  'resent-message-id',
  'in-reply-to',
  'references',
  'received',
  'return-path',
  'dkim-signature',
  'arc-seal',
  'arc-message-signature',
  'arc-authentication-results',
  'authentication-results',
  'received-spf',
  'list-unsubscribe',
  'list-unsubscribe-post',
  'list-post',
  'list-help',
  'list-subscribe',
  'list-archive',
  'list-owner',
]);

/** A field value as UTF-8 text: encoded words decoded where RFC 2047 allows them. */
function decodeFieldValue(name: string, value: string): string {
  const key = name.toLowerCase();
  const text = VERBATIM_FIELDS.has(key)
    ? value
    : ADDRESS_FIELDS.has(key)
      ? decodeStructured(value)
      : decodeWords(value);
  // decoding can yield controls the manifest forbids; a space keeps the words apart
  return text.replace(/[\r\n]/g, ' ').replace(/\0/g, '\uFFFD');
}

/**
 * Manifest headers for a message's fields. `ownAuthservIds` are this gateway's own names:
 * an Authentication-Results field claiming one of them arrived from outside and is forged
 * (RFC 8601 §5), so it is left out; the verdicts travel in the provenance instead.
 */
export function manifestHeaders(fields: readonly RawField[], ownAuthservIds: readonly string[] = []): Header[] {
  const forged = forgedResults(ownAuthservIds);
  return fields
    .filter(({ name, value }) => !isNeverCopied(name) && !forged(name, value))
    .map(({ name, value }) => [name, decodeFieldValue(name, value)]);
}

/**
 * Fields no copy of a message may carry out of this gateway: an Authentication-Results naming one
 * of `ownAuthservIds` (forged, RFC 8601 §5: only we write those, on top, after removing these),
 * PMTP-Trust (ours alone too), and PMTP-Token (a recipient's pre-approval travels to its domain in
 * the notice, never in the message).
 */
export function strippedOnDelivery(ownAuthservIds: readonly string[]): (name: string, value: string) => boolean {
  const forged = forgedAtIntake(ownAuthservIds);
  return (name, value) => isPmtpToken(name) || forged(name, value);
}

/**
 * Fields only this gateway writes, so a copy arriving with one carries a forgery: an
 * Authentication-Results in our name and PMTP-Trust (the trust class a mail client files by).
 */
export function forgedAtIntake(ownAuthservIds: readonly string[]): (name: string, value: string) => boolean {
  const forged = forgedResults(ownAuthservIds);
  return (name, value) => isPmtpTrust(name) || forged(name, value);
}

export function isPmtpTrust(name: string): boolean {
  return name.toLowerCase() === 'pmtp-trust';
}

/** A submission client's pre-approval (a sender token) for one recipient, read by the PMTP hand-off. */
export function isPmtpToken(name: string): boolean {
  return name.toLowerCase() === 'pmtp-token';
}

/** Authentication-Results naming one of `ownAuthservIds`: forged when it arrives from outside. */
export function forgedResults(ownAuthservIds: readonly string[]): (name: string, value: string) => boolean {
  const own = new Set(ownAuthservIds.map((id) => id.toLowerCase()));
  return (name, value) => name.toLowerCase() === 'authentication-results' && own.has(authservId(value));
}

/** The authserv-id an Authentication-Results value starts with (after any comments), lowercased. */
function authservId(value: string): string {
  return (/^\s*(?:\([^()]*\)\s*)*([^\s;()]+)/.exec(value)?.[1] ?? '').toLowerCase();
}

/**
 * Every mailbox of every From field, as PMTP addresses (lowercase A-label domain); a mailbox that
 * is not a usable address is kept as '' so that whoever judges the author sees it.
 */
export function authorAddresses(fromValues: readonly string[]): string[] {
  return fromValues.flatMap((value) =>
    addressparser(value, { flatten: true }).map(({ address }) => {
      const at = address.lastIndexOf('@');
      const domain = at > 0 ? domainToASCII(address.slice(at + 1).toLowerCase()) : '';
      const normal = `${address.slice(0, at)}@${domain}`;
      return domain && isAddress(normal) ? normal : '';
    }),
  );
}

/** The first From mailbox as a PMTP address (lowercase A-label domain), or undefined if it has none usable. */
export function fromAddress(fields: readonly RawField[]): string | undefined {
  const from = fields.find((f) => f.name.toLowerCase() === 'from');
  const mailbox = addressparser(from?.value ?? '', { flatten: true }).find((m) => m.address.includes('@'));
  if (!mailbox) return undefined;
  const at = mailbox.address.lastIndexOf('@');
  const domain = domainToASCII(mailbox.address.slice(at + 1).toLowerCase());
  const address = `${mailbox.address.slice(0, at)}@${domain}`;
  return domain && isAddress(address) ? address : undefined;
}
