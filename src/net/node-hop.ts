// The mark one fleet node puts on a pull it hands to the node holding the copy: which node sent
// it, the peer's address (the owner's failure budgets count the peer, not the node) and when,
// under an HMAC of the fleet's shared secret, so an outside client can neither forge a peer
// address nor make a node hand a request on a second time.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const HOP_HEADER = 'mailbridge-node-hop';

/** How old a mark may be: nodes of one fleet keep their clocks within seconds. */
const maxAgeS = 60;

export interface Hop {
  readonly from: string;
  readonly clientIp: string;
}

interface HopInput extends Hop {
  readonly method: string;
  readonly url: string;
}

function mac(secret: Buffer, input: HopInput, at: number): string {
  return createHmac('sha256', secret)
    .update([input.from, input.clientIp, String(at), input.method, input.url].join('\n'))
    .digest('base64url');
}

/** The header value for `input` (method and path with query, as the owner will see them). */
export function signHop(secret: Buffer, input: HopInput, nowS: number): string {
  return `${input.from};${input.clientIp};${nowS};${mac(secret, input, nowS)}`;
}

/** The hop a header value vouches for, or undefined when it is malformed, stale or forged. */
export function verifyHop(
  secret: Buffer,
  value: string,
  request: { readonly method: string; readonly url: string },
  nowS: number,
): Hop | undefined {
  const [from, clientIp, at, given, ...rest] = value.split(';');
  if (from === undefined || clientIp === undefined || given === undefined || rest.length > 0) return undefined;
  const when = Number(at);
  if (!Number.isSafeInteger(when) || Math.abs(nowS - when) > maxAgeS) return undefined;
  const expected = Buffer.from(mac(secret, { from, clientIp, method: request.method, url: request.url }, when));
  const actual = Buffer.from(given);
  return actual.length === expected.length && timingSafeEqual(actual, expected) ? { from, clientIp } : undefined;
}
