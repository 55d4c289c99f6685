// Formats the Authentication-Results header (RFC 8601) from mailauth's rows and our verdict.
// It is stored in the spool meta, not in the spooled bytes: checks ran on exactly the bytes that
// will be relayed, and the stage that writes the message out prepends this field (CRLF-ended).

import type { SenderVerdict } from '../mail/spool-records.js';
import type { MailauthOutcome } from './sender-verdict.js';

export function authenticationResults(mta: string, outcome: MailauthOutcome, verdict: SenderVerdict): string {
  const rows: string[] = [];
  outcome.dkim.results.forEach((row) => {
    if (!row.info) return;
    const tail =
      row.status.result === 'pass' &&
      verdict.dkim.some((d) => d.unsignedTail && d.domain === row.signingDomain && d.selector === row.selector);
    rows.push(tail ? row.info.replace(/^dkim=pass\b/, 'dkim=policy (unsigned body tail after l=)') : row.info);
  });
  for (const result of [outcome.spf, outcome.arc]) if (result !== false && result?.info) rows.push(result.info);
  if (verdict.dmarcOverridden || !outcome.dmarc || !outcome.dmarc.info) {
    const from = verdict.fromDomain ? ` header.from=${verdict.fromDomain}` : '';
    rows.push(`dmarc=${verdict.dmarc} (${commentText(verdict.reason)})${from}`);
  } else {
    rows.push(outcome.dmarc.info);
  }
  return field(mta, rows);
}

/** For a client that logged in on submission: the login is the authentication that counts. */
export function submissionResults(mta: string, user: string): string {
  return field(mta, [`auth=pass smtp.auth=${user.replace(/[^\x21-\x7e]/g, '?')}`]);
}

function field(mta: string, rows: readonly string[]): string {
  return `Authentication-Results: ${mta};\r\n ${rows.length > 0 ? rows.join(';\r\n ') : 'none'}\r\n`;
}

function commentText(text: string): string {
  return text.replace(/[()\\\r\n]+/g, ' ').trim();
}
