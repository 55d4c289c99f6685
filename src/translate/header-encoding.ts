// header-encoding: PMTP manifest headers → an RFC 5322 header section, in manifest order. Pure.
// With SMTPUTF8 the UTF-8 values go out raw (RFC 6532); without it, address fields and free text
// get RFC 2047 encoded words and punycode domains (nodemailer's MimeNode does that part), and a
// value that cannot be written in 7-bit (a UTF-8 local part, a UTF-8 Message-ID) is an error.
import { isAscii } from 'node:buffer';
import addressparser from 'nodemailer/lib/addressparser';
import { foldLines } from 'nodemailer/lib/mime-funcs';
import MimeNode from 'nodemailer/lib/mime-node';
import type { Header } from '../native/protocol/message-format.js';
import { ADDRESS_FIELDS, VERBATIM_FIELDS } from './header-mapping.js';
import { TranslateError } from './translate-error.js';

/** Fields MimeNode knows how to parse and re-encode as address lists. */
const MIME_NODE_ADDRESSES = new Set(['from', 'sender', 'to', 'cc', 'reply-to']);

/** One header field, folded at whitespace (RFC 5322 §2.2.3), CRLF-ended. */
function field(name: string, value: string): string {
  return `${foldLines(`${name}: ${value}`, 76)}\r\n`;
}

/** A mailbox whose local part is not ASCII can only travel over SMTPUTF8 (RFC 6531). */
function hasUtf8LocalPart(value: string): boolean {
  return addressparser(value, { flatten: true }).some(
    (m) => !isAscii(Buffer.from(m.address.slice(0, m.address.lastIndexOf('@')), 'utf8')),
  );
}

/** The 7-bit form of one value, or a typed error when there is none. */
function sevenBit(name: string, value: string): string {
  if (isAscii(Buffer.from(value, 'utf8'))) return value;
  const key = name.toLowerCase();
  if (ADDRESS_FIELDS.has(key) && hasUtf8LocalPart(value)) {
    throw new TranslateError('smtputf8_required', `${name} has an address with a UTF-8 local part`);
  }
  if (VERBATIM_FIELDS.has(key) || (ADDRESS_FIELDS.has(key) && !MIME_NODE_ADDRESSES.has(key))) {
    throw new TranslateError('smtputf8_required', `${name} holds UTF-8 that has no 7-bit form`);
  }
  // MimeNode keys its address handling on the canonical spelling of the name
  const encoded = MimeNode.encodeHeaderValue(MIME_NODE_ADDRESSES.has(key) ? key : 'X-Text', value);
  if (!isAscii(Buffer.from(encoded, 'utf8')))
    throw new TranslateError('smtputf8_required', `${name} cannot be encoded in 7-bit`);
  return encoded;
}

/** The header section lines (no terminating empty line). */
export function encodeHeaders(headers: readonly Header[], smtputf8: boolean): string {
  return headers.map(([name, value]) => field(name, smtputf8 ? value : sevenBit(name, value))).join('');
}
