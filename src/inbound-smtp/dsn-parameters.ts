// The DSN extension's parameters (RFC 3461): RET and ENVID on MAIL FROM, NOTIFY and ORCPT on
// RCPT TO. Checked as each command arrives (501 5.5.4 on bad syntax, as Postfix answers), read
// again at DATA into the spool record. smtp-server has xtext-decoded each value already (and
// refused control characters); its own DSN bookkeeping is not used, so a refused MAIL FROM
// cannot leave its RET behind for the next one.

import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import { DSN_NOTIFY, type DsnNotify, type MessageDsn, type RecipientDsn } from '../mail/spool-records.js';
import { replyError, type SmtpReplyError } from './reply-error.js';

/** RFC 3461 §4.4 and §4.2: the encoded ENVID is at most 100 characters, ORCPT at most 500. */
export const MAX_ENVID = 100;
export const MAX_ORCPT = 500;

type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/**
 * An xtext parameter as smtp-server hands it over (already decoded, control characters refused):
 * printable US-ASCII, as RFC 3461 §4.2 and §4.4 require of ORCPT and ENVID, and within `max` once
 * encoded again; undefined otherwise.
 */
export function printableParameter(decoded: string, max: number): string | undefined {
  if (decoded === '' || !/^[\x20-\x7e]+$/.test(decoded)) return undefined;
  return xtextLength(decoded) <= max ? decoded : undefined;
}

/** The length of `text` as xtext: `+`, `=`, space and the rest outside `!`..`~` take three characters. */
export function xtextLength(text: string): number {
  let length = 0;
  for (const c of text) length += /[!-*,-<>-~]/.test(c) ? 1 : 3;
  return length;
}

type Args = SMTPServerAddress['args'];

function value(args: Args, key: string): string | undefined {
  const v = args ? args[key] : undefined;
  return typeof v === 'string' ? v : undefined;
}

export function mailParameters(args: Args): Parsed<Pick<MessageDsn, 'ret' | 'envid'>> {
  const ret = value(args, 'RET')?.toUpperCase();
  if (ret !== undefined && ret !== 'FULL' && ret !== 'HDRS') return { ok: false, reason: 'RET must be FULL or HDRS' };
  const rawEnvid = value(args, 'ENVID');
  let envid: string | undefined;
  if (rawEnvid !== undefined) {
    envid = printableParameter(rawEnvid, MAX_ENVID);
    if (!envid) return { ok: false, reason: `ENVID must be printable ASCII of at most ${MAX_ENVID} xtext characters` };
  }
  return { ok: true, value: { ...(ret ? { ret } : {}), ...(envid ? { envid } : {}) } };
}

export function recipientParameters(args: Args): Parsed<RecipientDsn> {
  const rawNotify = value(args, 'NOTIFY');
  let notify: DsnNotify[] | undefined;
  if (rawNotify !== undefined) {
    const values = rawNotify.toUpperCase().split(',');
    const known = (v: string): v is DsnNotify => (DSN_NOTIFY as readonly string[]).includes(v);
    if (!values.every(known) || new Set(values).size !== values.length)
      return { ok: false, reason: 'NOTIFY must be NEVER, or a list of SUCCESS, FAILURE and DELAY' };
    if (values.includes('NEVER') && values.length > 1)
      return { ok: false, reason: 'NOTIFY=NEVER cannot be combined with other values' };
    notify = values;
  }
  const rawOrcpt = value(args, 'ORCPT');
  let orcpt: string | undefined;
  if (rawOrcpt !== undefined) {
    const match = /^([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+);(.+)$/.exec(rawOrcpt);
    orcpt = match ? printableParameter(rawOrcpt, MAX_ORCPT) : undefined;
    if (!orcpt)
      return {
        ok: false,
        reason: `ORCPT must be addr-type;address, printable ASCII of at most ${MAX_ORCPT} xtext characters`,
      };
  }
  return { ok: true, value: { ...(notify ? { notify } : {}), ...(orcpt ? { orcpt } : {}) } };
}

/** The 501 5.5.4 for a MAIL FROM with bad DSN parameters, or undefined. */
export function mailParameterError(address: SMTPServerAddress): SmtpReplyError | undefined {
  const parsed = mailParameters(address.args);
  return parsed.ok ? undefined : replyError('syntax_error', parsed.reason);
}

/** The 501 5.5.4 for a RCPT TO with bad DSN parameters, or undefined. */
export function recipientParameterError(address: SMTPServerAddress): SmtpReplyError | undefined {
  const parsed = recipientParameters(address.args);
  return parsed.ok ? undefined : replyError('syntax_error', parsed.reason);
}

/**
 * The transaction's DSN parameters for the spool record; `rcpts` are the normalised recipients
 * in RCPT order (the routes). Undefined when the client gave none.
 */
export function sessionDsn(session: SMTPServerSession, rcpts: readonly string[]): MessageDsn | undefined {
  const from = session.envelope.mailFrom;
  const mail = from ? mailParameters(from.args) : undefined;
  const recipients: Record<string, RecipientDsn> = {};
  session.envelope.rcptTo.forEach((address, i) => {
    const parsed = recipientParameters(address.args);
    const rcpt = rcpts[i];
    if (rcpt !== undefined && parsed.ok && (parsed.value.notify || parsed.value.orcpt)) recipients[rcpt] = parsed.value;
  });
  const dsn: MessageDsn = {
    ...(mail?.ok ? mail.value : {}),
    ...(Object.keys(recipients).length > 0 ? { recipients } : {}),
  };
  return Object.keys(dsn).length > 0 ? dsn : undefined;
}
