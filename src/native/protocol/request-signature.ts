// PMTP/1's profile of RFC 9421: every server-to-server request is signed by the sending domain and
// names its destination domain, so it cannot be replayed elsewhere; responses can be signed too and
// bound to their request. Nonce replay tracking is the caller's (expose nonce + expires).

import { randomBytes } from 'node:crypto';
import type { StatusCode } from '../../codes.js';
import { isDomain } from './address.js';
import { toBase64Url } from './bytes.js';
import { ed25519Sign, ed25519Verify, type KeyLookup, type PrivateKeyInput } from './ed25519.js';
import {
  type ComponentId,
  component,
  contentDigest,
  contentDigestMatches,
  dictionaryMember,
  fieldValue,
  type HeaderBag,
  requestDerivedComponents,
  signatureBase,
  signatureParamsValue,
} from './http-signature-base.js';
import { isInnerList, type Parameters, serializeItem, serializeMember } from './structured-fields.js';

export const SIGNATURE_LABEL = 'pmtp';
export const SIGNATURE_TAG = 'pmtp1';
const COVERED_HEADERS = ['content-digest', 'pmtp-origin', 'pmtp-destination'];
/** The request's own signature, as a response component (`req` flag): binds response to request. */
const REQUEST_SIGNATURE = component('signature', [
  ['req', true],
  ['key', SIGNATURE_LABEL],
]);
export const REQUEST_COMPONENTS: readonly ComponentId[] = [
  '@method',
  '@target-uri',
  '@authority',
  ...COVERED_HEADERS,
].map((n) => component(n));
export const RESPONSE_COMPONENTS: readonly ComponentId[] = [
  component('@status'),
  ...COVERED_HEADERS.map((n) => component(n)),
  REQUEST_SIGNATURE,
];
/** The signature parameters, exactly these and in this order (§9.1). */
export const SIGNATURE_PARAMS = ['created', 'expires', 'nonce', 'keyid', 'alg', 'tag'] as const;
const KEY_ID = /^ed25519:[A-Za-z0-9_-]{43}$/;
const NONCE = /^[A-Za-z0-9_-]{16,64}$/;

export interface Signer {
  domain: string;
  keyId: string;
  privateKey: PrivateKeyInput;
}

export interface SignOptions {
  signer: Signer;
  /** Domain the message is for: the recipient domain of a request, the requester of a response. */
  destination: string;
  body: Uint8Array;
  created: number;
  /** Default created + 60. */
  expires?: number;
  /** Default 16 random bytes, base64url. */
  nonce?: string;
}

export type SignatureCode = Extract<
  StatusCode,
  | 'signature_missing'
  | 'signature_malformed'
  | 'signature_invalid'
  | 'signature_expired'
  | 'signature_not_yet_valid'
  | 'wrong_destination'
  | 'wrong_origin'
  | 'digest_mismatch'
  | 'unknown_key'
  | 'key_revoked'
>;

export type SignatureVerification =
  | { ok: true; origin: string; keyId: string; nonce: string; created: number; expires: number }
  | { ok: false; code: SignatureCode; detail: string };

export interface VerifyOptions {
  /** The verifier's own domain: the signature must name it as destination. */
  domain: string;
  now: number;
  keyLookup: KeyLookup;
  /** Allowed clock difference, seconds (default 60). */
  maxSkewS?: number;
  /** Longest accepted expires - created, seconds (default 300); bounds the replay window. */
  maxLifetimeS?: number;
  /** Whether the origin's key set lists the key as revoked (§8.7), asked only when keyLookup found none. */
  isRevoked?: (domain: string, keyId: string) => boolean;
}

/** Component values that do not come from the message's own header fields. */
type Derived = Map<string, string>;
const idOf = (c: ComponentId) => serializeItem({ value: c.name, params: c.params });
const derivedMap = (values: Record<string, string>): Derived =>
  new Map(Object.entries(values).map(([k, v]) => [idOf(component(k)), v]));

function sign(components: readonly ComponentId[], derived: Derived, options: SignOptions): Record<string, string> {
  const { signer, created } = options;
  const headers: Record<string, string> = {
    'content-digest': contentDigest(options.body),
    'pmtp-origin': signer.domain,
    'pmtp-destination': options.destination,
  };
  const params: Parameters = [
    ['created', created],
    ['expires', options.expires ?? created + 60],
    ['nonce', options.nonce ?? toBase64Url(randomBytes(16))],
    ['keyid', signer.keyId],
    ['alg', 'ed25519'],
    ['tag', SIGNATURE_TAG],
  ];
  const paramsValue = signatureParamsValue(components, params);
  const lines = components.map((c) => [c, derived.get(idOf(c)) ?? headers[c.name] ?? ''] as const);
  const sig = ed25519Sign(signer.privateKey, Buffer.from(signatureBase(lines, paramsValue), 'utf8'));
  headers['signature-input'] = `${SIGNATURE_LABEL}=${paramsValue}`;
  headers.signature = `${SIGNATURE_LABEL}=:${sig.toString('base64')}:`;
  return headers;
}

/** Headers to add to a request: content-digest, pmtp-origin, pmtp-destination, signature-input, signature. */
export function signRequest(request: { method: string; url: string }, options: SignOptions): Record<string, string> {
  const derived = requestDerivedComponents(request.method, request.url);
  if (!derived) throw new TypeError(`cannot sign request to ${request.url}`);
  return sign(REQUEST_COMPONENTS, derivedMap(derived), options);
}

/** The request's own `pmtp` signature, serialised, which a response signature covers (`req`). */
function requestSignatureValue(requestHeaders: HeaderBag): string | undefined {
  try {
    const member = dictionaryMember(requestHeaders, 'signature', SIGNATURE_LABEL);
    return member ? serializeMember(member) : undefined;
  } catch {
    return undefined;
  }
}

function responseDerived(status: number, requestHeaders: HeaderBag): Derived | undefined {
  const requestSig = requestSignatureValue(requestHeaders);
  if (requestSig === undefined) return undefined;
  return new Map([
    [idOf(component('@status')), String(status)],
    [idOf(REQUEST_SIGNATURE), requestSig],
  ]);
}

/** Headers to add to a response, binding it to the signed request it answers. */
export function signResponse(
  response: { status: number; requestHeaders: HeaderBag },
  options: SignOptions,
): Record<string, string> {
  const derived = responseDerived(response.status, response.requestHeaders);
  if (!derived) throw new TypeError('the request carries no pmtp signature to bind to');
  return sign(RESPONSE_COMPONENTS, derived, options);
}

interface Parsed {
  origin: string;
  destination: string;
  keyId: string;
  nonce: string;
  created: number;
  expires: number;
  sig: Buffer;
  paramsValue: string;
}

/** Strict parse of the `pmtp` members of Signature-Input and Signature and the PMTP headers. */
function parseSignature(components: readonly ComponentId[], headers: HeaderBag): Parsed | SignatureCode {
  let input;
  let signature;
  try {
    input = dictionaryMember(headers, 'signature-input', SIGNATURE_LABEL);
    signature = dictionaryMember(headers, 'signature', SIGNATURE_LABEL);
  } catch {
    return 'signature_malformed';
  }
  if (!input || !signature) return 'signature_missing';
  if (!isInnerList(input) || isInnerList(signature) || !(signature.value instanceof Uint8Array)) {
    return 'signature_malformed';
  }
  const covered = input.items.map((i) => serializeItem(i));
  if (covered.join(' ') !== components.map(idOf).join(' ')) return 'signature_malformed';
  // One order, so every signer builds the same `@signature-params` line (§9.1); no extras, no repeats.
  if (input.params.map(([k]) => k).join(' ') !== SIGNATURE_PARAMS.join(' ')) return 'signature_malformed';
  const p = new Map(input.params);
  const [created, expires, nonce, keyId, alg, tag] = SIGNATURE_PARAMS.map((k) => p.get(k));
  const origin = fieldValue(headers, 'pmtp-origin') ?? '';
  const destination = fieldValue(headers, 'pmtp-destination') ?? '';
  const wellFormed =
    typeof created === 'number' &&
    typeof expires === 'number' &&
    typeof nonce === 'string' &&
    NONCE.test(nonce) &&
    typeof keyId === 'string' &&
    KEY_ID.test(keyId) &&
    alg === 'ed25519' &&
    tag === SIGNATURE_TAG &&
    signature.value.length === 64 &&
    isDomain(origin) &&
    isDomain(destination);
  if (!wellFormed) return 'signature_malformed';
  const paramsValue = signatureParamsValue(components, input.params);
  return { origin, destination, keyId, nonce, created, expires, sig: Buffer.from(signature.value), paramsValue };
}

async function verify(
  components: readonly ComponentId[],
  derived: Derived,
  message: { headers: HeaderBag; body: Uint8Array },
  options: VerifyOptions,
): Promise<SignatureVerification> {
  const bad = (code: SignatureCode, detail: string) => ({ ok: false as const, code, detail });
  const parsed = parseSignature(components, message.headers);
  if (typeof parsed === 'string') return bad(parsed, `pmtp signature: ${parsed}`);
  const { now } = options;
  const skew = options.maxSkewS ?? 60;
  if (parsed.destination !== options.domain) return bad('wrong_destination', `signed for ${parsed.destination}`);
  if (parsed.expires <= parsed.created || parsed.expires - parsed.created > (options.maxLifetimeS ?? 300)) {
    return bad('signature_malformed', 'expires must follow created within the maximum lifetime');
  }
  if (parsed.created > now + skew) return bad('signature_not_yet_valid', `created ${parsed.created} is in the future`);
  if (parsed.expires < now - skew) return bad('signature_expired', `expired at ${parsed.expires}`);
  const digest = contentDigestMatches(fieldValue(message.headers, 'content-digest') ?? '', message.body);
  if (digest !== 'match') {
    return bad(digest === 'mismatch' ? 'digest_mismatch' : 'signature_malformed', `content-digest ${digest}`);
  }
  const key = await options.keyLookup(parsed.origin, parsed.keyId, parsed.created);
  if (key === undefined && options.isRevoked?.(parsed.origin, parsed.keyId))
    return bad('key_revoked', `${parsed.origin} revoked key ${parsed.keyId}`);
  if (key === undefined) return bad('unknown_key', `${parsed.origin} has no valid key ${parsed.keyId}`);
  const lines = components.map((c) => [c, derived.get(idOf(c)) ?? fieldValue(message.headers, c.name) ?? ''] as const);
  let base: Buffer;
  try {
    base = Buffer.from(signatureBase(lines, parsed.paramsValue), 'utf8');
  } catch {
    return bad('signature_malformed', 'a covered value contains a line break');
  }
  if (!ed25519Verify(key, base, parsed.sig)) return bad('signature_invalid', 'ed25519 verification failed');
  const { origin, keyId, nonce, created, expires } = parsed;
  return { ok: true, origin, keyId, nonce, created, expires };
}

/** Verifies a signed request; never throws. The caller must still reject a replayed nonce. */
export async function verifyRequest(
  request: { method: string; url: string; headers: HeaderBag; body: Uint8Array },
  options: VerifyOptions,
): Promise<SignatureVerification> {
  const derived = requestDerivedComponents(request.method, request.url);
  if (!derived) return { ok: false, code: 'signature_malformed', detail: 'bad target URI' };
  return verify(REQUEST_COMPONENTS, derivedMap(derived), request, options);
}

/** Verifies a signed response to our signed request, from the domain we sent it to. */
export async function verifyResponse(
  response: { status: number; headers: HeaderBag; body: Uint8Array },
  options: VerifyOptions & { requestHeaders: HeaderBag; expectedOrigin: string },
): Promise<SignatureVerification> {
  const derived = responseDerived(response.status, options.requestHeaders);
  if (!derived) return { ok: false, code: 'signature_malformed', detail: 'request carries no pmtp signature' };
  const result = await verify(RESPONSE_COMPONENTS, derived, response, options);
  if (result.ok && result.origin !== options.expectedOrigin) {
    return { ok: false, code: 'wrong_origin', detail: `signed by ${result.origin}` };
  }
  return result;
}
