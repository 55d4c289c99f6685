// translate-error: the one typed error the RFC 5322 ⇄ PMTP converters throw, with a code saying
// what the caller can do about it. `original_mismatch`, `smtputf8_required`, `eightbit_required`
// and `dot_line` on the original-bytes path mean "compose MIME instead"; the rest are final.

export type TranslateErrorCode =
  /** the original-rfc5322 part's octets do not match its length or digest */
  | 'original_mismatch'
  /** a content part's octets do not match its length or digest */
  | 'part_mismatch'
  /** the output needs UTF-8 in headers (RFC 6531/6532) and the next hop lacks SMTPUTF8 */
  | 'smtputf8_required'
  /** the output has 8-bit body octets and the next hop lacks 8BITMIME */
  | 'eightbit_required'
  /** a bare CR or LF, which SMTP cannot carry and which invites smuggling */
  | 'bare_newline'
  /** a line holding only ".", which would end SMTP DATA early if a hop skipped dot-stuffing */
  | 'dot_line'
  /** a caller-supplied trace line is not one CRLF-ended header field */
  | 'trace_invalid'
  /** the part sink returned before reading all of a part's octets */
  | 'sink_incomplete'
  /** the message has no usable From address and a null reverse-path */
  | 'from_missing'
  /** the header section exceeds the size the converter reads */
  | 'header_too_large'
  /** the manifest built from the message fails the PMTP schema */
  | 'manifest_invalid'
  /** more MIME parts than the parser or a manifest allows (a MIME bomb) */
  | 'too_many_parts';

export class TranslateError extends Error {
  override readonly name = 'TranslateError';
  constructor(
    readonly code: TranslateErrorCode,
    message: string,
  ) {
    super(message);
  }
}
