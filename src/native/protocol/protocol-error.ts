// The one typed error thrown by PMTP/1 encoders and the Result shape returned by its parsers.
// Parsers of untrusted input return Results (never throw); encoders given bad program data throw.
// Every code is one of src/codes.ts, which maps it to SMTP/HTTP status.

import { MailbridgeError, type StatusCode } from '../../codes.js';

export type ProtocolErrorCode = Extract<StatusCode, 'canonical_json_invalid' | 'key_invalid' | 'input_invalid'>;

export class ProtocolError extends MailbridgeError {
  declare readonly code: ProtocolErrorCode;
  constructor(code: ProtocolErrorCode, message: string) {
    super(code, message);
    this.name = 'ProtocolError';
  }
}

export type Result<T, C extends StatusCode> = { ok: true; value: T } | { ok: false; code: C; detail: string };

export function ok<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}

export function fail<C extends StatusCode>(code: C, detail: string): { ok: false; code: C; detail: string } {
  return { ok: false, code, detail };
}

/** Turns a zod error into a one-line detail naming the first bad path. */
interface IssueList {
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>;
}

export function describeIssue(error: IssueList): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
  return `$${path}: ${issue.message}`;
}
