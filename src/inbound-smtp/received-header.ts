// The Received trace field (RFC 5321 4.4) for a message that came in over SMTP. Pure.
// Built from the spool meta's client facts; stored in the meta and prepended on the way out.
// Client-supplied text (HELO) is made safe, never trusted: a bad HELO must not break the field.

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
  if (input.recipients.length === 1 && only !== undefined && only !== '' && safe(only) === only) lines.push(`\tfor <${only}>`);
  return `${lines.join('\r\n')};\r\n\t${rfc5322Date(input.date)}\r\n`;
}

/** `Tue, 02 Jan 2024 03:04:05 +0000`: RFC 5322 3.3, always in UTC. */
export function rfc5322Date(date: Date): string {
  return date.toUTCString().replace(/GMT$/, '+0000');
}

/** Printable ASCII without the characters that end a token or open a comment; others become '?'. */
function safe(value: string): string {
  return value.slice(0, 255).replace(/[^\x21-\x7e]|[()<>;\\[\]"]/g, '?');
}

function bareIp(ip: string): string {
  return ip.replace(/^IPv6:/i, '').replace(/^::ffff:(?=\d+\.)/i, '');
}
