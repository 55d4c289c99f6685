// The one status table: every outcome mailbridge can report, with its SMTP reply,
// enhanced status code (RFC 3463), HTTP status for PMTP, and whether a retry may help.
// docs/errors.md is checked against this table by test/codes.test.ts. Never reuse a code.

export interface StatusEntry {
  readonly smtp: number;
  readonly enhanced: string;
  readonly http: number;
  readonly retryable: boolean;
  readonly text: string;
}

const table = {
  // success
  ok: { smtp: 250, enhanced: '2.0.0', http: 200, retryable: false, text: 'Ok' },
  queued: { smtp: 250, enhanced: '2.0.0', http: 202, retryable: false, text: 'Ok: queued' },
  signed: { smtp: 250, enhanced: '2.0.0', http: 200, retryable: false, text: 'Ok: signed' },

  // local resources: always transient, never a 250
  spool_unavailable: {
    smtp: 451,
    enhanced: '4.3.0',
    http: 503,
    retryable: true,
    text: 'Spool unavailable, try again later',
  },
  queue_unavailable: {
    smtp: 451,
    enhanced: '4.3.0',
    http: 503,
    retryable: true,
    text: 'Queue unavailable, try again later',
  },
  insufficient_storage: {
    smtp: 452,
    enhanced: '4.3.1',
    http: 507,
    retryable: true,
    text: 'Insufficient system storage',
  },
  shutting_down: { smtp: 421, enhanced: '4.3.2', http: 503, retryable: true, text: 'Service shutting down' },

  // SMTP input hygiene and limits
  bare_newline: {
    smtp: 550,
    enhanced: '5.5.2',
    http: 400,
    retryable: false,
    text: 'Bare CR or LF is not allowed in message data',
  },
  message_too_large: {
    smtp: 552,
    enhanced: '5.3.4',
    http: 413,
    retryable: false,
    text: 'Message size exceeds fixed limit',
  },
  line_too_long: { smtp: 500, enhanced: '5.5.2', http: 400, retryable: false, text: 'Line too long' },
  header_too_large: { smtp: 552, enhanced: '5.3.4', http: 413, retryable: false, text: 'Header section too large' },
  too_many_recipients: { smtp: 452, enhanced: '4.5.3', http: 400, retryable: true, text: 'Too many recipients' },
  too_many_connections: {
    smtp: 421,
    enhanced: '4.7.0',
    http: 429,
    retryable: true,
    text: 'Too many connections from your address',
  },
  data_too_slow: {
    smtp: 421,
    enhanced: '4.4.2',
    http: 408,
    retryable: true,
    text: 'Data rate too low, closing connection',
  },
  session_stalled: {
    smtp: 421,
    enhanced: '4.4.2',
    http: 408,
    retryable: true,
    text: 'No progress while the server is busy, closing connection',
  },
  session_evicted: {
    smtp: 421,
    enhanced: '4.4.5',
    http: 503,
    retryable: true,
    text: 'Server full, closing the most stalled session',
  },
  syntax_error: { smtp: 501, enhanced: '5.5.4', http: 400, retryable: false, text: 'Syntax error in parameters' },
  bad_sequence: { smtp: 503, enhanced: '5.5.1', http: 400, retryable: false, text: 'Bad sequence of commands' },

  // routing and relay control
  relay_denied: { smtp: 554, enhanced: '5.7.1', http: 403, retryable: false, text: 'Relay access denied' },
  unknown_user: {
    smtp: 550,
    enhanced: '5.1.1',
    http: 404,
    retryable: false,
    text: 'Recipient address rejected: user unknown',
  },
  bad_address: { smtp: 553, enhanced: '5.1.3', http: 400, retryable: false, text: 'Bad address syntax' },
  auth_required: { smtp: 530, enhanced: '5.7.0', http: 401, retryable: false, text: 'Authentication required' },
  auth_failed: {
    smtp: 535,
    enhanced: '5.7.8',
    http: 401,
    retryable: false,
    text: 'Authentication credentials invalid',
  },
  tls_required: {
    smtp: 530,
    enhanced: '5.7.0',
    http: 403,
    retryable: false,
    text: 'Must issue a STARTTLS command first',
  },
  client_not_allowed: {
    smtp: 554,
    enhanced: '5.7.1',
    http: 403,
    retryable: false,
    text: 'Client host rejected: access denied',
  },
  signing_unavailable: {
    smtp: 554,
    enhanced: '5.3.3',
    http: 501,
    retryable: false,
    text: 'Signing is not configured on this gateway',
  },
  sign_back_refused: {
    smtp: 550,
    enhanced: '5.7.1',
    http: 403,
    retryable: false,
    text: 'Sign-back returns mail only to a sender hosted here',
  },
  sender_not_owned: {
    smtp: 553,
    enhanced: '5.7.1',
    http: 403,
    retryable: false,
    text: 'Sender address rejected: not owned by the login',
  },
  header_sender_not_owned: {
    smtp: 550,
    enhanced: '5.7.1',
    http: 403,
    retryable: false,
    text: 'Header sender rejected: not owned by the login',
  },
  route_lookup_failed: {
    smtp: 451,
    enhanced: '4.4.3',
    http: 503,
    retryable: true,
    text: 'Temporary failure looking up the recipient domain',
  },
  recipient_unverified: {
    smtp: 450,
    enhanced: '4.1.1',
    http: 503,
    retryable: true,
    text: 'Recipient address rejected: unverified address, try again later',
  },
  auth_service_unavailable: {
    smtp: 454,
    enhanced: '4.7.0',
    http: 503,
    retryable: true,
    text: 'Temporary authentication failure, try again later',
  },

  // sender authentication (SPF/DKIM/DMARC)
  dmarc_reject: { smtp: 550, enhanced: '5.7.1', http: 403, retryable: false, text: 'Rejected by DMARC policy' },
  auth_temp_error: {
    smtp: 451,
    enhanced: '4.7.0',
    http: 503,
    retryable: true,
    text: 'Temporary authentication failure',
  },

  // PMTP request authentication
  signature_missing: { smtp: 530, enhanced: '5.7.0', http: 401, retryable: false, text: 'Request is not signed' },
  signature_malformed: {
    smtp: 501,
    enhanced: '5.7.0',
    http: 401,
    retryable: false,
    text: 'Request signature is malformed',
  },
  signature_invalid: {
    smtp: 535,
    enhanced: '5.7.1',
    http: 401,
    retryable: false,
    text: 'Request signature does not verify',
  },
  signature_expired: {
    smtp: 535,
    enhanced: '5.7.1',
    http: 401,
    retryable: false,
    text: 'Request signature is outside its time window',
  },
  nonce_replayed: { smtp: 535, enhanced: '5.7.1', http: 401, retryable: false, text: 'Request nonce was already used' },
  wrong_destination: {
    smtp: 535,
    enhanced: '5.7.1',
    http: 401,
    retryable: false,
    text: 'Request was signed for another domain',
  },
  digest_mismatch: {
    smtp: 554,
    enhanced: '5.6.0',
    http: 400,
    retryable: false,
    text: 'Content digest does not match the body',
  },
  // retryable (docs/protocol.md §15): the verifier may hold a stale key set and refetch it
  unknown_key: {
    smtp: 454,
    enhanced: '4.7.0',
    http: 401,
    retryable: true,
    text: 'Signing key is not known for the origin domain',
  },
  key_fetch_failed: {
    smtp: 451,
    enhanced: '4.7.0',
    http: 503,
    retryable: true,
    text: 'Could not fetch the origin domain keys',
  },
  not_notified: {
    smtp: 550,
    enhanced: '5.7.1',
    http: 403,
    retryable: false,
    text: 'This domain was not notified of that message',
  },

  // PMTP message lifecycle
  message_not_found: { smtp: 550, enhanced: '5.1.0', http: 404, retryable: false, text: 'No such message' },
  message_retracted: {
    smtp: 550,
    enhanced: '5.2.0',
    http: 410,
    retryable: false,
    text: 'Message was retracted by its sender',
  },
  message_expired: { smtp: 550, enhanced: '5.4.7', http: 410, retryable: false, text: 'Message expired' },
  malformed_request: { smtp: 500, enhanced: '5.5.2', http: 400, retryable: false, text: 'Malformed request' },
  payload_too_large: { smtp: 552, enhanced: '5.3.4', http: 413, retryable: false, text: 'Request body too large' },
  batch_too_large: { smtp: 552, enhanced: '5.5.3', http: 413, retryable: false, text: 'Too many notices in one batch' },
  rate_limited: { smtp: 450, enhanced: '4.7.0', http: 429, retryable: true, text: 'Rate limit exceeded, slow down' },
  backlog_full: {
    smtp: 451,
    enhanced: '4.3.2',
    http: 429,
    retryable: true,
    text: 'Too much work held for this origin, try again later',
  },
  challenge_failed: {
    smtp: 550,
    enhanced: '5.7.1',
    http: 403,
    retryable: false,
    text: 'Challenge solution is invalid, expired or reused',
  },
  token_invalid: {
    smtp: 550,
    enhanced: '5.7.1',
    http: 403,
    retryable: false,
    text: 'Sender token is invalid, revoked or exhausted',
  },
  sender_denied: {
    smtp: 550,
    enhanced: '5.7.1',
    http: 403,
    retryable: false,
    text: 'Sender is not accepted by this recipient',
  },
  delegation_invalid: {
    smtp: 550,
    enhanced: '5.7.1',
    http: 502,
    retryable: false,
    text: 'Redirect target is not a delegate of the recipient domain',
  },

  // delivery outcomes reported by remote peers
  remote_transient: {
    smtp: 451,
    enhanced: '4.4.0',
    http: 502,
    retryable: true,
    text: 'Remote server answered with a temporary failure',
  },
  remote_permanent: {
    smtp: 550,
    enhanced: '5.0.0',
    http: 502,
    retryable: false,
    text: 'Remote server rejected the message',
  },
  null_mx: {
    smtp: 556,
    enhanced: '5.1.10',
    http: 502,
    retryable: false,
    text: 'Recipient domain does not accept mail (null MX)',
  },
  no_route: {
    smtp: 451,
    enhanced: '4.4.4',
    http: 502,
    retryable: true,
    text: 'Unable to route: no address for the destination',
  },
  connection_failed: {
    smtp: 451,
    enhanced: '4.4.1',
    http: 502,
    retryable: true,
    text: 'Could not connect to the remote server',
  },
  egress_refused: {
    smtp: 550,
    enhanced: '5.4.4',
    http: 502,
    retryable: false,
    text: 'Destination is not a public address and not allowed by config',
  },
  response_too_large: {
    smtp: 552,
    enhanced: '5.3.4',
    http: 502,
    retryable: false,
    text: 'Remote answer exceeds the size limit',
  },
  unknown_domain: {
    smtp: 550,
    enhanced: '5.1.2',
    http: 502,
    retryable: false,
    text: 'Recipient domain does not exist',
  },
  mta_sts_mismatch: {
    smtp: 451,
    enhanced: '4.7.5',
    http: 502,
    retryable: true,
    text: 'No MX host satisfies the domain MTA-STS policy',
  },
  lifetime_exceeded: { smtp: 554, enhanced: '5.4.7', http: 410, retryable: false, text: 'Delivery time expired' },
  // `mailbridge queue delete`: an operator removed the message; no DSN, like postsuper -d
  admin_deleted: {
    smtp: 550,
    enhanced: '5.0.0',
    http: 410,
    retryable: false,
    text: 'Removed from the queue by the administrator',
  },

  // PMTP/1 server and protocol outcomes (docs/protocol.md §16.2)
  signature_not_yet_valid: {
    smtp: 535,
    enhanced: '5.7.1',
    http: 401,
    retryable: false,
    text: 'Request signature is dated in the future',
  },
  wrong_origin: {
    smtp: 535,
    enhanced: '5.7.1',
    http: 403,
    retryable: false,
    text: 'Signer is not the origin the request names',
  },
  batch_invalid: { smtp: 501, enhanced: '5.5.4', http: 400, retryable: false, text: 'Notice batch is malformed' },
  notice_conflict: {
    smtp: 550,
    enhanced: '5.6.0',
    http: 409,
    retryable: false,
    text: 'Same message id and version with another manifest',
  },
  version_superseded: {
    smtp: 550,
    enhanced: '5.2.0',
    http: 410,
    retryable: false,
    text: 'A newer version of the message was announced',
  },
  view_invalid: { smtp: 501, enhanced: '5.5.4', http: 400, retryable: false, text: 'Unknown message view' },
  cookie_unknown: { smtp: 550, enhanced: '5.1.0', http: 404, retryable: false, text: 'Unknown status cookie' },
  first_contact_denied: {
    smtp: 550,
    enhanced: '5.7.1',
    http: 403,
    retryable: false,
    text: 'Recipient accepts no mail from new senders',
  },
  recipient_unknown: { smtp: 550, enhanced: '5.1.1', http: 404, retryable: false, text: 'No such recipient' },
  recipient_wrong_domain: {
    smtp: 550,
    enhanced: '5.1.2',
    http: 400,
    retryable: false,
    text: 'Recipient is not in the destination domain',
  },
  duplicate_recipient: {
    smtp: 550,
    enhanced: '5.5.4',
    http: 400,
    retryable: false,
    text: 'Recipient listed twice in one notice',
  },
  notice_expired: {
    smtp: 550,
    enhanced: '5.4.7',
    http: 410,
    retryable: false,
    text: 'Notice expired before it arrived',
  },
  notice_lifetime_too_long: {
    smtp: 550,
    enhanced: '5.5.4',
    http: 400,
    retryable: false,
    text: 'Notice expires later than this server keeps notices',
  },
  fetch_url_invalid: {
    smtp: 550,
    enhanced: '5.7.1',
    http: 400,
    retryable: false,
    text: 'Fetch URL is not on the origin endpoint',
  },
  message_invalid: {
    smtp: 550,
    enhanced: '5.6.0',
    http: 422,
    retryable: false,
    text: 'Pulled message failed framing, digest or signature checks',
  },
  origin_unaligned: {
    smtp: 550,
    enhanced: '5.7.1',
    http: 403,
    retryable: false,
    text: 'Origin is neither the sender domain nor its gateway',
  },
  content_rejected: { smtp: 550, enhanced: '5.7.1', http: 403, retryable: false, text: 'Message content rejected' },
  already_fetched: {
    smtp: 550,
    enhanced: '5.2.0',
    http: 409,
    retryable: false,
    text: 'The previous version was already fetched',
  },
  challenge_too_hard: {
    smtp: 550,
    enhanced: '5.7.1',
    http: 403,
    retryable: false,
    text: 'Proof of work asked exceeds our limit',
  },
  challenge_wrong_binding: {
    smtp: 550,
    enhanced: '5.7.1',
    http: 403,
    retryable: false,
    text: 'Challenge names another notice, sender or recipient than ours; not solved',
  },
  pow_budget_exhausted: {
    smtp: 451,
    enhanced: '4.7.0',
    http: 429,
    retryable: true,
    text: 'Proof-of-work budget for this destination is spent, will retry',
  },
  redirect_loop: {
    smtp: 550,
    enhanced: '5.4.6',
    http: 508,
    retryable: false,
    text: 'Too many redirects for one notice',
  },
  token_exhausted: { smtp: 550, enhanced: '5.7.1', http: 403, retryable: false, text: 'Sender token has no uses left' },
  token_revoked: { smtp: 550, enhanced: '5.7.1', http: 403, retryable: false, text: 'Sender token was revoked' },
  challenge_spent: {
    smtp: 550,
    enhanced: '5.7.1',
    http: 403,
    retryable: false,
    text: 'Challenge solution was already used',
  },
  delivery_failed: {
    smtp: 451,
    enhanced: '4.3.0',
    http: 502,
    retryable: true,
    text: 'Local delivery failed, will retry',
  },

  // PMTP/1 documents that fail their checks (parsers return these; logs and peers see them)
  manifest_invalid: {
    smtp: 550,
    enhanced: '5.6.0',
    http: 422,
    retryable: false,
    text: 'Manifest fails the PMTP schema',
  },
  frame_malformed: {
    smtp: 550,
    enhanced: '5.6.0',
    http: 422,
    retryable: false,
    text: 'Message stream framing is malformed',
  },
  truncated: { smtp: 550, enhanced: '5.6.0', http: 422, retryable: false, text: 'Message stream ended early' },
  head_invalid: { smtp: 550, enhanced: '5.6.0', http: 422, retryable: false, text: 'Message head frame is invalid' },
  manifest_digest_mismatch: {
    smtp: 550,
    enhanced: '5.6.0',
    http: 422,
    retryable: false,
    text: 'Manifest does not match the announced digest',
  },
  part_digest_mismatch: {
    smtp: 550,
    enhanced: '5.6.0',
    http: 422,
    retryable: false,
    text: 'Part octets do not match their digest',
  },
  delegation_malformed: {
    smtp: 550,
    enhanced: '5.7.1',
    http: 400,
    retryable: false,
    text: 'Delegation proof is malformed',
  },
  delegation_mismatch: {
    smtp: 550,
    enhanced: '5.7.1',
    http: 400,
    retryable: false,
    text: 'Delegation proof names another recipient or endpoint',
  },
  delegation_expired: {
    smtp: 550,
    enhanced: '5.7.1',
    http: 403,
    retryable: false,
    text: 'Delegation proof has expired',
  },
  delegation_scope: {
    smtp: 550,
    enhanced: '5.7.1',
    http: 403,
    retryable: false,
    text: 'Delegate key used beyond the one recipient it was granted',
  },
  discovery_record_missing: {
    smtp: 550,
    enhanced: '5.4.4',
    http: 502,
    retryable: false,
    text: 'Domain publishes no _pmtp discovery record',
  },
  discovery_record_invalid: {
    smtp: 550,
    enhanced: '5.4.4',
    http: 502,
    retryable: false,
    text: 'Domain discovery record or endpoint is malformed',
  },
  keyset_malformed: { smtp: 554, enhanced: '5.7.0', http: 502, retryable: false, text: 'Peer key set is malformed' },
  keyset_wrong_domain: {
    smtp: 554,
    enhanced: '5.7.0',
    http: 502,
    retryable: false,
    text: 'Peer key set names another domain',
  },
  keyset_expired: { smtp: 554, enhanced: '5.7.0', http: 502, retryable: false, text: 'Peer key set has expired' },
  keyset_invalid: {
    smtp: 554,
    enhanced: '5.7.0',
    http: 502,
    retryable: false,
    text: 'Peer key set signature does not verify',
  },
  keyset_unpinned: {
    smtp: 554,
    enhanced: '5.7.0',
    http: 502,
    retryable: false,
    text: 'Peer key set is not signed by the key its DNS record pins',
  },
  key_expired: { smtp: 535, enhanced: '5.7.1', http: 401, retryable: false, text: 'Signing key has expired' },
  key_revoked: { smtp: 535, enhanced: '5.7.1', http: 401, retryable: false, text: 'Signing key was revoked' },
  keyset_discontinuous: {
    smtp: 454,
    enhanced: '4.7.0',
    http: 502,
    retryable: true,
    text: 'Peer key set is signed by no key trusted before and is not confirmed by its trust anchor',
  },
  endpoint_unconfirmed: {
    smtp: 454,
    enhanced: '4.7.0',
    http: 502,
    retryable: true,
    text: 'Peer trust anchor does not confirm the endpoint or key pin DNS gives',
  },
  challenge_invalid: {
    smtp: 550,
    enhanced: '5.7.1',
    http: 403,
    retryable: false,
    text: 'Challenge is malformed or was not issued here',
  },
  challenge_expired: { smtp: 550, enhanced: '5.7.1', http: 403, retryable: false, text: 'Challenge has expired' },
  challenge_mismatch: {
    smtp: 550,
    enhanced: '5.7.1',
    http: 403,
    retryable: false,
    text: 'Challenge was issued for another notice, sender or recipient',
  },
  pow_insufficient: {
    smtp: 550,
    enhanced: '5.7.1',
    http: 403,
    retryable: false,
    text: 'Proof of work does not meet the challenge',
  },
  token_malformed: { smtp: 550, enhanced: '5.7.1', http: 403, retryable: false, text: 'Sender token is malformed' },
  token_wrong_issuer: {
    smtp: 550,
    enhanced: '5.7.1',
    http: 403,
    retryable: false,
    text: 'Sender token was issued by another domain',
  },
  token_wrong_recipient: {
    smtp: 550,
    enhanced: '5.7.1',
    http: 403,
    retryable: false,
    text: 'Sender token was issued for another recipient',
  },
  token_expired: { smtp: 550, enhanced: '5.7.1', http: 403, retryable: false, text: 'Sender token has expired' },
  token_scope_mismatch: {
    smtp: 550,
    enhanced: '5.7.1',
    http: 403,
    retryable: false,
    text: 'Sender token does not cover this sender',
  },
  // an object whose `v` this receiver does not implement, or whose `crit` names a member it does not know (§19)
  version_unsupported: {
    smtp: 550,
    enhanced: '5.6.0',
    http: 400,
    retryable: false,
    text: 'Object has a PMTP version this receiver does not implement',
  },
  critical_member_unknown: {
    smtp: 550,
    enhanced: '5.6.0',
    http: 400,
    retryable: false,
    text: 'Object marks as critical a member this receiver does not understand',
  },
  illegal_transition: {
    smtp: 554,
    enhanced: '5.3.0',
    http: 409,
    retryable: false,
    text: 'Recipient state does not allow that change',
  },

  // PMTP/1 encoders given data no valid program would pass (a bug, never a peer's fault)
  canonical_json_invalid: {
    smtp: 554,
    enhanced: '5.3.0',
    http: 500,
    retryable: false,
    text: 'Value has no canonical JSON form',
  },
  key_invalid: {
    smtp: 554,
    enhanced: '5.3.0',
    http: 500,
    retryable: false,
    text: 'Key material is not a valid Ed25519 key',
  },
  input_invalid: { smtp: 554, enhanced: '5.3.0', http: 500, retryable: false, text: 'Encoder was given invalid input' },

  // RFC 5322 <-> PMTP conversion (src/translate); the first four on the original-bytes path mean "compose MIME instead"
  original_mismatch: {
    smtp: 554,
    enhanced: '5.6.0',
    http: 422,
    retryable: false,
    text: 'Original message part does not match its length or digest',
  },
  smtputf8_required: {
    smtp: 554,
    enhanced: '5.6.7',
    http: 422,
    retryable: false,
    text: 'Next hop lacks SMTPUTF8, which the message needs',
  },
  eightbit_required: {
    smtp: 554,
    enhanced: '5.6.3',
    http: 422,
    retryable: false,
    text: 'Next hop lacks 8BITMIME, which the message needs',
  },
  dot_line: {
    smtp: 554,
    enhanced: '5.6.0',
    http: 422,
    retryable: false,
    text: 'A line holding only "." cannot travel safely',
  },
  part_mismatch: {
    smtp: 554,
    enhanced: '5.6.0',
    http: 422,
    retryable: false,
    text: 'Message part does not match its length or digest',
  },
  from_missing: {
    smtp: 550,
    enhanced: '5.6.0',
    http: 422,
    retryable: false,
    text: 'Message has no usable From address',
  },
  too_many_parts: {
    smtp: 552,
    enhanced: '5.3.4',
    http: 413,
    retryable: false,
    text: 'Message has too many MIME parts',
  },
  trace_invalid: {
    smtp: 554,
    enhanced: '5.3.0',
    http: 500,
    retryable: false,
    text: 'Trace field is not one CRLF-ended header field',
  },
  sink_incomplete: {
    smtp: 451,
    enhanced: '4.3.0',
    http: 500,
    retryable: true,
    text: 'Part sink stopped before the part ended',
  },

  internal_error: { smtp: 451, enhanced: '4.3.0', http: 500, retryable: true, text: 'Internal error, try again later' },
} as const satisfies Record<string, StatusEntry>;

export type StatusCode = keyof typeof table;

export const statusTable: Readonly<Record<StatusCode, StatusEntry>> = Object.freeze(table);

export function isStatusCode(code: string): code is StatusCode {
  return Object.hasOwn(table, code);
}

export function statusOf(code: StatusCode): StatusEntry {
  return statusTable[code];
}

/** `550 5.7.1 Rejected by DMARC policy` style text; `detail` replaces the default text. */
export function smtpReply(code: StatusCode, detail?: string): { code: number; message: string } {
  const entry = statusTable[code];
  return { code: entry.smtp, message: `${entry.enhanced} ${detail ?? entry.text}` };
}

/** The typed error body every PMTP error response carries. */
export function errorBody(
  code: StatusCode,
  detail?: string,
): { error: { code: StatusCode; message: string; retryable: boolean } } {
  const entry = statusTable[code];
  return { error: { code, message: detail ?? entry.text, retryable: entry.retryable } };
}

/** An error that carries one of the table's codes across module boundaries. */
export class MailbridgeError extends Error {
  readonly code: StatusCode;
  constructor(code: StatusCode, detail?: string, options?: { cause?: unknown }) {
    super(detail ?? statusTable[code].text, options);
    this.name = 'MailbridgeError';
    this.code = code;
  }
  get status(): StatusEntry {
    return statusTable[this.code];
  }
}
