// Envelope addresses as routing sees them: domain lower-case ASCII (IDN as punycode), trailing
// dot dropped. Forms that route around us are refused: `%` or `!` in the local part, `@` in a
// quoted local part, address literals. (smtp-server strips source routes, per RFC 5321 4.1.2.)

import { domainToASCII } from 'node:url';
import type { StatusCode } from '../codes.js';

export interface MailAddress {
  readonly local: string;
  /** ASCII (A-label) form, lower case, no trailing dot */
  readonly domain: string;
  readonly address: string;
}

export type AddressCheck =
  | { readonly ok: true; readonly address: MailAddress }
  | { readonly ok: false; readonly code: StatusCode; readonly reason: string };

/** Parses an RCPT TO address; `postmasterDomain` stands in for the domainless `<postmaster>`. */
export function checkRecipient(raw: string, postmasterDomain: string | undefined): AddressCheck {
  if (raw.toLowerCase() === 'postmaster') {
    if (!postmasterDomain) return refuse('relay_denied', 'no local domain for <postmaster>');
    return {
      ok: true,
      address: { local: 'postmaster', domain: postmasterDomain, address: `postmaster@${postmasterDomain}` },
    };
  }
  const at = raw.lastIndexOf('@');
  if (at <= 0 || at === raw.length - 1) return refuse('bad_address', 'address needs a local part and a domain');
  const local = raw.slice(0, at);
  const rawDomain = raw.slice(at + 1);
  if (local.startsWith('"') && local.slice(1, -1).includes('@'))
    return refuse('relay_denied', 'quoted local part contains "@"');
  if (local.includes('@')) return refuse('relay_denied', 'more than one "@"');
  if (local.includes('%') || local.includes('!'))
    return refuse('relay_denied', 'sender-specified routing (% or !) is not allowed');
  if (rawDomain.startsWith('[')) return refuse('relay_denied', 'address literals are not accepted');
  const domain = asciiDomain(rawDomain);
  if (!domain) return refuse('bad_address', 'domain is not a valid name');
  return { ok: true, address: { local, domain, address: `${local}@${domain}` } };
}

/** MAIL FROM: the null sender stays ''; otherwise only the domain is normalised. */
export function checkSender(raw: string): AddressCheck | { readonly ok: true; readonly address: null } {
  if (raw === '') return { ok: true, address: null };
  const at = raw.lastIndexOf('@');
  if (at <= 0 || at === raw.length - 1) return refuse('bad_address', 'sender needs a local part and a domain');
  const local = raw.slice(0, at);
  const rawDomain = raw.slice(at + 1);
  const domain = rawDomain.startsWith('[') ? rawDomain : asciiDomain(rawDomain);
  if (!domain) return refuse('bad_address', 'sender domain is not a valid name');
  return { ok: true, address: { local, domain, address: `${local}@${domain}` } };
}

/** A-label form for comparison; '' when the name cannot be a domain. */
export function asciiDomain(name: string): string {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  if (trimmed === '' || trimmed.includes('..')) return '';
  const ascii = domainToASCII(trimmed.normalize('NFC')).toLowerCase();
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(ascii)) return '';
  return ascii;
}

function refuse(code: StatusCode, reason: string): AddressCheck {
  return { ok: false, code, reason };
}
