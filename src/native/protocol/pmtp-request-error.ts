// The typed error of every outgoing PMTP/1 call: a code of src/codes.ts (from the peer's error
// body, a response check or the network), the HTTP status if any, and whether trying again may help.

import { MailbridgeError, type StatusCode } from '../../codes.js';

export class PmtpRequestError extends MailbridgeError {
  constructor(
    code: StatusCode,
    message: string,
    /** the peer's or the network's word, which may differ from the table's default for the code */
    readonly retryable: boolean,
    readonly httpStatus?: number,
    /** Seconds from Retry-After, on 429/503. */
    readonly retryAfterS?: number,
  ) {
    super(code, `${code}: ${message}`);
    this.name = 'PmtpRequestError';
  }
}

export function isRetryable(err: unknown): boolean {
  return err instanceof PmtpRequestError ? err.retryable : true;
}
