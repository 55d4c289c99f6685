// Turns a status-table code into the error object smtp-server's callbacks answer with,
// so every refusal a listener sends comes from src/codes.ts.

import { MailbridgeError, type StatusCode, smtpReply, statusOf } from '../codes.js';

export interface SmtpReplyError extends Error {
  responseCode: number;
  /** the table code, so metrics can count refusals by reason */
  status: StatusCode;
}

/** `550 5.7.1 <table text>`, or `<table text>: <detail>` when a detail helps the sender. */
export function replyError(code: StatusCode, detail?: string): SmtpReplyError {
  const reply = smtpReply(code, detail === undefined ? undefined : `${statusOf(code).text}: ${detail}`);
  return Object.assign(new Error(reply.message), { responseCode: reply.code, status: code });
}

/** Any failure as a reply: a MailbridgeError keeps its code and text, anything else is a transient 451. */
export function replyErrorFor(err: unknown): SmtpReplyError {
  if (!(err instanceof MailbridgeError)) return replyError('internal_error');
  const reply = smtpReply(err.code, err.message);
  return Object.assign(new Error(reply.message), { responseCode: reply.code, status: err.code });
}
