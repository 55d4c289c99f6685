// The typed error of every outgoing PMTP/1 call: a protocol code (from the peer's error body, a
// response check or the network), the HTTP status if any, and whether trying again may help.
export class PmtpRequestError extends Error {
  override readonly name = 'PmtpRequestError';
  constructor(
    readonly code: string,
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    /** Seconds from Retry-After, on 429/503. */
    readonly retryAfterS?: number,
  ) {
    super(`${code}: ${message}`);
  }
}

export function isRetryable(err: unknown): boolean {
  return err instanceof PmtpRequestError ? err.retryable : true;
}
