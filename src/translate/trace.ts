// trace: the header fields a conversion puts on top of a message. Pure.
// `traceBlock` checks the caller's fields (built with trace-fields.ts: Received, and
// Authentication-Results with pmtp=...) before they are prepended; `provenanceResults` renders the
// SMTP verdicts a gateway recorded in a manifest's provenance, under that gateway's authserv-id.
import type { Provenance } from '../native/protocol/message-format.js';
import { TranslateError } from './translate-error.js';

/** One header field: a name, a colon, folded lines each ending CRLF, no empty line. */
const FIELD = /^[!-9;-~]+:[^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*$/;

/** The fields joined, topmost first; throws `trace_invalid` naming the first malformed one. */
export function traceBlock(fields: readonly string[]): Buffer {
  fields.forEach((field, i) => {
    if (!FIELD.test(field) || field.includes('\0')) {
      throw new TranslateError('trace_invalid', `trace field ${i} is not one CRLF-ended header field`);
    }
  });
  return Buffer.from(fields.join(''), 'utf8');
}

/** A value safe inside a resinfo: no whitespace, ";", parentheses, quotes or controls; else omitted. */
function prop(name: string, value: string): string {
  return /^[\x21-\x7e]+$/.test(value) && !/[;()"\\]/.test(value) ? ` ${name}=${value}` : '';
}

/**
 * `Authentication-Results: <gateway>; spf=…; dkim=…; dmarc=…; arc=…` (RFC 8601) from a provenance.
 * The gateway is the authserv-id because it ran the checks; a recipient trusts these lines only
 * as far as it trusts that gateway, which is what the PMTP signature check establishes.
 */
export function provenanceResults(provenance: Provenance): string {
  const { spf, dkim, dmarc, arc } = provenance;
  const rows = [`spf=${spf.result}${prop('smtp.mailfrom', spf.domain)}`];
  if (dkim.length === 0) rows.push('dkim=none');
  for (const d of dkim) rows.push(`dkim=${d.result}${prop('header.d', d.domain)}${prop('header.s', d.selector)}`);
  rows.push(`dmarc=${dmarc.result}${prop('header.from', dmarc.domain)}`, `arc=${arc.result}`);
  return `Authentication-Results: ${provenance.gateway};\r\n\t${rows.join(';\r\n\t')}\r\n`;
}
