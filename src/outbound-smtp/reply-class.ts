// reply-class: decides whether a remote reply or a connection error is worth a retry.
// Pure. 4xx and connection failures are transient, 5xx permanent (RFC 5321 §4.2.1); the
// remote text is kept verbatim because it is what the sender will see in the status.

import { MailbridgeError, type StatusCode, statusOf } from '../codes.js';

export type ReplyClass = 'transient' | 'permanent';

export interface RemoteOutcome {
  readonly class: ReplyClass;
  readonly code: StatusCode;
  /** the remote reply exactly as received, or the local error text when there was no reply */
  readonly reply: string;
  /** true when no SMTP reply was read at all: another host of the route may do better */
  readonly connectionLevel: boolean;
}

/** Error codes Node and nodemailer use for "could not talk to the host"; all worth a retry. */
const connectionCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'EAI_AGAIN',
  'ECONNECTION',
  'ESOCKET',
  'EDNS',
  'ETLS',
  'EREQUIRETLS',
  'EPROTOCOL',
]);

/** A numeric SMTP reply: 5xx is permanent except 503 (bad sequence: a fresh session may work). */
export function classifyReply(smtpCode: number, text: string): RemoteOutcome {
  const permanent = smtpCode >= 500 && smtpCode !== 503;
  return {
    class: permanent ? 'permanent' : 'transient',
    code: permanent ? 'remote_permanent' : 'remote_transient',
    reply: text,
    connectionLevel: false,
  };
}

/** Anything thrown while delivering: a nodemailer error, a Node socket error or a MailbridgeError. */
export function classifyError(err: unknown): RemoteOutcome {
  if (err instanceof MailbridgeError) {
    return {
      class: err.status.retryable ? 'transient' : 'permanent',
      code: err.code,
      reply: err.message,
      connectionLevel: false,
    };
  }
  const e = (err ?? {}) as {
    code?: unknown;
    command?: unknown;
    responseCode?: unknown;
    response?: unknown;
    message?: unknown;
    originalCode?: unknown;
  };
  const message = typeof e.message === 'string' ? e.message : String(err);
  // TLS we insisted on and did not get is our policy speaking, not the server refusing the mail
  if (e.code === 'ETLS' || e.code === 'EREQUIRETLS' || e.command === 'STARTTLS') {
    const reply =
      typeof e.response === 'string' && e.response !== '' ? `STARTTLS failed: ${e.response}` : `TLS failed: ${message}`;
    return { class: 'transient', code: 'connection_failed', reply, connectionLevel: true };
  }
  if (typeof e.responseCode === 'number' && e.responseCode >= 200) {
    const reply = typeof e.response === 'string' && e.response !== '' ? e.response : message;
    // 421 means the server is closing the session: another MX may well answer
    return { ...classifyReply(e.responseCode, reply), connectionLevel: e.responseCode === 421 };
  }
  const code = typeof e.originalCode === 'string' ? e.originalCode : typeof e.code === 'string' ? e.code : undefined;
  const known = code !== undefined && connectionCodes.has(code);
  return {
    class: 'transient',
    code: known ? 'connection_failed' : 'internal_error',
    reply: code !== undefined && !message.includes(code) ? `${code}: ${message}` : message,
    connectionLevel: true,
  };
}

/** `5.1.1` from `550 5.1.1 No such user`, else the table's enhanced code for the outcome. */
export function enhancedStatus(outcome: Pick<RemoteOutcome, 'code' | 'reply'>): string {
  const match = /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(outcome.reply);
  return match?.[1] ?? statusOf(outcome.code).enhanced;
}
