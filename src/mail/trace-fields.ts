// trace-fields: the trace header lines the gateway writes, built as text, and the one check every
// block of them passes before it is prepended. Pure. `Received` (RFC 5321 §4.4) records our hop
// with the queue id, for SMTP-born mail with the client it came from; `Authentication-Results`
// (RFC 8601) carries the SMTP verdicts, or the PMTP ones as method `pmtp`.

import { MailbridgeError } from '../codes.js';
import type { SmtpRecord } from './spool-records.js';

export interface ReceivedInput {
  /** our host name, config.hostname */
  readonly by: string;
  readonly queueId: string;
  /** how the message reached us (RFC 3848 names, or PMTP); absent for mail we wrote ourselves */
  readonly protocol?: 'ESMTP' | 'ESMTPS' | 'ESMTPA' | 'ESMTPSA' | 'PMTP';
  readonly date: Date;
  /** named only for a single recipient, as Postfix does, so one copy never lists the others */
  readonly recipient?: string;
}

/** For mail that did not come in over SMTP (pulled over PMTP, or written by us). */
export function receivedHeader(input: ReceivedInput): string {
  const via = input.protocol ? ` with ${input.protocol}` : '';
  // an address that would need quoting is left out rather than risk a malformed trace line
  const rcpt = input.recipient !== undefined && isSafe(input.recipient) ? `\r\n\tfor <${input.recipient}>` : '';
  return `Received: by ${token(input.by)} (mailbridge)${via} id ${token(input.queueId)}${rcpt};\r\n\t${rfc5322Date(input.date)}\r\n`;
}

export interface InboundReceivedInput {
  /** our host name, config.hostname */
  readonly by: string;
  readonly queueId: string;
  readonly helo: string;
  /** the client the checks judged (XFORWARD ADDR from a trusted relay-in client) */
  readonly ip: string;
  /** the socket peer; named only when it differs from `ip` */
  readonly peer: string;
  /** smtp-server's transmission type: SMTP, ESMTP, ESMTPS, ESMTPSA (RFC 3848) */
  readonly protocol: string;
  /** named only for a single recipient, as Postfix does, so one copy never lists the others */
  readonly recipients: readonly string[];
  readonly date: Date;
}

/**
 * For mail that came in over SMTP. Client-supplied text (HELO) is made safe, never trusted: a
 * bad HELO must not break the field, so it is rewritten rather than refused.
 */
export function inboundReceived(input: InboundReceivedInput): string {
  const ip = bareIp(input.ip);
  const peer = bareIp(input.peer);
  const via = peer !== ip ? ` (via [${safe(peer)}])` : '';
  const protocol = /^(E?SMTP|LMTP)S?A?$/.test(input.protocol) ? input.protocol : 'SMTP';
  const lines = [
    `Received: from ${safe(input.helo) || 'unknown'} ([${safe(ip)}])${via}`,
    `\tby ${safe(input.by)} (mailbridge) with ${protocol} id ${safe(input.queueId)}`,
  ];
  const [only] = input.recipients;
  // an address that would need quoting is left out rather than mangled
  if (input.recipients.length === 1 && only !== undefined && only !== '' && safe(only) === only)
    lines.push(`\tfor <${only}>`);
  return `${lines.join('\r\n')};\r\n\t${rfc5322Date(input.date)}\r\n`;
}

export type PmtpResult = 'pass' | 'fail' | 'none' | 'temperror' | 'permerror';

export interface PmtpVerdict {
  /** our authserv-id, config.hostname */
  readonly authservId: string;
  readonly result: PmtpResult;
  /** the signing (origin) domain */
  readonly domain: string;
  /** the trust class the PMTP policy gave the sender, e.g. `allowlisted` (named by src/native) */
  readonly trust: string;
  /** `aligned`: the author is authenticated for its domain; `vouched`: only the origin answers for it */
  readonly author: 'aligned' | 'vouched';
  /** the SMTP verdicts a converting gateway recorded, when the message has them */
  readonly provenance?: ProvenanceVerdicts;
}

export interface ProvenanceVerdicts {
  readonly gateway: string;
  /** only a trusted gateway's verdicts are repeated as results; the others are named in a comment */
  readonly trusted: boolean;
  readonly spf: { readonly result: string; readonly domain: string };
  readonly dkim: readonly { readonly result: string; readonly domain: string; readonly selector: string }[];
  readonly dmarc: { readonly result: string; readonly domain: string };
}

/**
 * `Authentication-Results: mx.example; pmtp=pass header.d=example.org policy.trust=allowlisted
 * policy.author=aligned`, then a trusted gateway's dmarc, spf and dkim verdicts, each marked as its.
 * A result or a name that is not a plain token is left out: provenance is the peer's text.
 */
export function pmtpAuthenticationResults(verdict: PmtpVerdict): string {
  if (!isDomainToken(verdict.domain)) throw new Error(`not a domain name: ${JSON.stringify(verdict.domain)}`);
  if (!/^[a-z][a-z0-9-]*$/i.test(verdict.trust)) throw new Error(`not a trust class: ${JSON.stringify(verdict.trust)}`);
  const origin = verdict.domain.toLowerCase();
  const p = verdict.provenance;
  const via = p && isDomainToken(p.gateway) ? ` (provenance of ${p.gateway.toLowerCase()})` : '';
  const untrusted =
    p && !p.trusted ? (via === '' ? ' (provenance not trusted)' : `${via.slice(0, -1)} not trusted)`) : '';
  const results = [
    `pmtp=${verdict.result} header.d=${origin} policy.trust=${verdict.trust} policy.author=${verdict.author}${untrusted}`,
  ];
  if (p?.trusted) {
    const method = (name: string, result: string, property: string, domain: string, extra = '') =>
      /^[a-z]+$/.test(result) && isDomainToken(domain)
        ? [`${name}=${result} ${property}=${domain.toLowerCase()}${extra}${via}`]
        : [];
    results.push(
      ...method('dmarc', p.dmarc.result, 'header.from', p.dmarc.domain),
      ...method('spf', p.spf.result, 'smtp.mailfrom', p.spf.domain),
      ...p.dkim.flatMap((d) =>
        method('dkim', d.result, 'header.d', d.domain, isDomainToken(d.selector) ? ` header.s=${d.selector}` : ''),
      ),
    );
  }
  return `Authentication-Results: ${token(verdict.authservId)};\r\n\t${results.join(';\r\n\t')}\r\n`;
}

/** `PMTP-Trust: allowlisted; author=aligned; origin=a.example` (docs/protocol.md §13.2), or `PMTP-Trust: smtp` for mail that came in over SMTP. */
export function pmtpTrustField(input: { trust: string; author?: 'aligned' | 'vouched'; origin?: string }): string {
  if (!/^[a-z][a-z0-9-]*$/i.test(input.trust)) throw new Error(`not a trust class: ${JSON.stringify(input.trust)}`);
  const author = input.author ? `; author=${input.author}` : '';
  const origin =
    input.origin !== undefined && isDomainToken(input.origin) ? `; origin=${input.origin.toLowerCase()}` : '';
  return `PMTP-Trust: ${input.trust}${author}${origin}\r\n`;
}

function isDomainToken(value: string): boolean {
  return /^[a-z0-9][a-z0-9.-]{0,252}$/i.test(value);
}

/** `Tue, 02 Jan 2024 03:04:05 +0000`: RFC 5322 §3.3, always in UTC. */
export function rfc5322Date(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '+0000');
}

function isSafe(value: string): boolean {
  return value !== '' && !/[\r\n\0;()<>\s]/.test(value);
}

/** Values land inside a header: anything that could end the line or the field is refused. */
function token(value: string): string {
  if (!isSafe(value)) throw new Error(`unsafe value for a trace header: ${JSON.stringify(value)}`);
  return value;
}

/** Printable ASCII without the characters that end a token or open a comment; others become '?'. */
function safe(value: string): string {
  return value.slice(0, 255).replace(/[^\x21-\x7e]|[()<>;\\[\]"]/g, '?');
}

function bareIp(ip: string): string {
  return ip.replace(/^IPv6:/i, '').replace(/^::ffff:(?=\d+\.)/i, '');
}

/**
 * The trace fields an SMTP listener stored with the message, topmost first: our ARC set, our
 * Authentication-Results, then our Received (the newest hop's fields sit on top, RFC 5321 4.4).
 */
export function smtpTraceFields(record: Pick<SmtpRecord, 'arcSet' | 'authenticationResults' | 'received'>): string[] {
  const arc =
    record.arcSet === ''
      ? []
      : record.arcSet
          .split(/\r\n(?![ \t])/)
          .filter((f) => f !== '')
          .map((f) => `${f}\r\n`);
  return [...arc, record.authenticationResults, record.received];
}

/** One header field: a name, a colon, folded lines each ending CRLF, no empty line. */
const FIELD = /^[!-9;-~]+:[^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*$/;

/** The fields joined, topmost first; throws `trace_invalid` naming the first malformed one. */
export function traceBlock(fields: readonly string[]): Buffer {
  fields.forEach((field, i) => {
    if (!FIELD.test(field) || field.includes('\0'))
      throw new MailbridgeError('trace_invalid', `trace field ${i} is not one CRLF-ended header field`);
  });
  return Buffer.from(fields.join(''), 'utf8');
}
