// trace-header: the header lines the gateway adds on the way out, built as text. Pure.
// `Received` (RFC 5321 §4.4) records our hop with the queue id; `Authentication-Results`
// (RFC 8601) carries the PMTP verdicts with the method name `pmtp`.

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

/** For mail that did not come in over SMTP: SMTP-born mail carries src/inbound-smtp's own field. */
export function receivedHeader(input: ReceivedInput): string {
  const via = input.protocol ? ` with ${input.protocol}` : '';
  // an address that would need quoting is left out rather than risk a malformed trace line
  const rcpt = input.recipient !== undefined && isSafe(input.recipient) ? `\r\n\tfor <${input.recipient}>` : '';
  return `Received: by ${token(input.by)} (mailbridge)${via} id ${token(input.queueId)}${rcpt};\r\n\t${rfc5322Date(input.date)}\r\n`;
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
}

/** `Authentication-Results: mx.example; pmtp=pass header.d=example.org policy.trust=allowlisted` */
export function pmtpAuthenticationResults(verdict: PmtpVerdict): string {
  if (!/^[a-z0-9.-]+$/i.test(verdict.domain)) throw new Error(`not a domain name: ${JSON.stringify(verdict.domain)}`);
  if (!/^[a-z][a-z0-9-]*$/i.test(verdict.trust)) throw new Error(`not a trust class: ${JSON.stringify(verdict.trust)}`);
  return `Authentication-Results: ${token(verdict.authservId)};\r\n\tpmtp=${verdict.result} header.d=${verdict.domain.toLowerCase()} policy.trust=${verdict.trust}\r\n`;
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
