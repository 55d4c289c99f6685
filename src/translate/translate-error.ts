// translate-error: the one typed error the RFC 5322 ⇄ PMTP converters throw, carrying a code of
// src/codes.ts that says what the caller can do about it. `original_mismatch`, `smtputf8_required`,
// `eightbit_required` and `dot_line` on the original-bytes path mean "compose MIME instead"; the rest are final.

import { MailbridgeError, type StatusCode } from '../codes.js';

export type TranslateErrorCode = Extract<
  StatusCode,
  | 'original_mismatch'
  | 'part_mismatch'
  | 'smtputf8_required'
  | 'eightbit_required'
  | 'bare_newline'
  | 'dot_line'
  | 'trace_invalid'
  | 'sink_incomplete'
  | 'from_missing'
  | 'header_too_large'
  | 'manifest_invalid'
  | 'too_many_parts'
>;

export class TranslateError extends MailbridgeError {
  declare readonly code: TranslateErrorCode;
  constructor(code: TranslateErrorCode, message: string) {
    super(code, message);
    this.name = 'TranslateError';
  }
}
