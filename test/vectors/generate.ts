// Builds the PMTP/1 test vectors from fixed seeds, times, nonces and salts (Ed25519 is deterministic).
// The committed *.json files are the source of truth; test/native/protocol/vectors.test.ts compares them with
// this output and verifies them independently. Regenerate: UPDATE_VECTORS=1 npx vitest run test/native/protocol/vectors.test.ts
import { sha256Base64Url } from '../../src/native/protocol/bytes.js';
import { canonicalJson } from '../../src/native/protocol/canonical-json.js';
import { signDelegation } from '../../src/native/protocol/delegation.js';
import { formatDiscoveryRecord } from '../../src/native/protocol/dns-discovery.js';
import {
  currentKeyEntry,
  type DomainKey,
  domainKeyFromSeed,
  oldKeyEntry,
  signKeySet,
} from '../../src/native/protocol/domain-keys.js';
import { fetchUrl } from '../../src/native/protocol/endpoints.js';
import { requestDerivedComponents, signatureBase } from '../../src/native/protocol/http-signature-base.js';
import { contentSize, describePart, type Manifest, manifestDigest } from '../../src/native/protocol/message-format.js';
import { encodeMessageStream, type MessageHead } from '../../src/native/protocol/message-framing.js';
import {
  type MessageSignature,
  type SignatureRole,
  signManifest,
} from '../../src/native/protocol/message-signature.js';
import {
  challengeId,
  issueChallenge,
  leadingZeroBits,
  solveChallenge,
  workHash,
} from '../../src/native/protocol/proof-of-work.js';
import {
  REQUEST_COMPONENTS,
  RESPONSE_COMPONENTS,
  signRequest,
  signResponse,
} from '../../src/native/protocol/request-signature.js';
import { issueSenderToken } from '../../src/native/protocol/sender-token.js';
import { statementBytes } from '../../src/native/protocol/signed-statement.js';
import { parseDictionary, serializeMember } from '../../src/native/protocol/structured-fields.js';

export const VECTOR_NOW = 1_767_225_600; // 2026-01-01T00:00:00Z

/** RFC 8032 §7.1 test seeds, reused so their public keys can be checked against the RFC. */
export const VECTOR_SEEDS: Record<string, string> = {
  'a.example': '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
  'a.example (old)': '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
  'b.example': 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
  'c.example': 'f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5',
  'g.example': '833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42',
};
const key = (name: string): DomainKey => domainKeyFromSeed(Buffer.from(VECTOR_SEEDS[name]!, 'hex'));
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

function keys() {
  return Object.keys(VECTOR_SEEDS).map((name) => {
    const k = key(name);
    return { name, seed_hex: k.seed.toString('hex'), public_key_hex: k.publicKey.toString('hex'), key_id: k.keyId };
  });
}

function canonical() {
  const inputs: unknown[] = [
    { b: 1, a: [true, false, null], '': {} },
    { '\u{1F600}': 'astral', '\uFF61': 'bmp', é: 'latin', E: 'upper', e: 'lower' },
    ['"quote" \\backslash\\', '\b\f\n\r\t\u0000\u001f', '\u007f\u2028\u2029', 'ünïcödé ☕ 😀'],
    [9007199254740991, -9007199254740991, 0, -1, [], {}],
  ];
  return {
    valid: inputs.map((input) => ({
      input,
      canonical: canonicalJson(input),
      canonical_hex: Buffer.from(canonicalJson(input)).toString('hex'),
    })),
    /** JSON texts that parse, but whose values canonical JSON refuses. */
    invalid_values: ['1.5', '-0', '9007199254740992', '1e400', '"\\ud800"'],
    /** Texts whose values are fine but which are not canonically spelled. */
    non_canonical: ['{"b":1,"a":2}', '{"a": 1}', '{"a":1,"a":1}', '1.0', '"\\u0041"', '"\\u001F"', '"\\/"', ' 1'],
  };
}

const TEXT = 'Hello Bob,\r\nlunch at noon? — Alice\r\n';
const HTML = '<p>Hello Bob,</p><p>lunch at noon? — Alice</p>';
const BINARY = Buffer.from('00ff0a0d2e0d0a00', 'hex');

function message() {
  const parts = [Buffer.from(TEXT), Buffer.from(HTML), BINARY];
  const manifest: Manifest = {
    v: 1,
    id: 'q7Jt3nX0bWc1yZ9aKm4LpA',
    version: 1,
    from: 'alice@a.example',
    headers: [
      ['From', 'Alice <alice@a.example>'],
      ['To', 'Bob <bob@b.example>'],
      ['Subject', 'Lunch? ☕'],
      ['Date', 'Thu, 01 Jan 2026 00:00:00 +0000'],
    ],
    parts: [
      describePart(parts[0]!, { type: 'text/plain; charset=utf-8', role: 'body' }),
      describePart(parts[1]!, { type: 'text/html; charset=utf-8', role: 'alternative' }),
      describePart(parts[2]!, {
        type: 'application/octet-stream',
        role: 'attachment',
        disposition: 'attachment',
        filename: 'data.bin',
      }),
    ],
    created: VECTOR_NOW,
  };
  const digest = manifestDigest(manifest);
  const signers: Array<[SignatureRole, string, string]> = [
    ['origin', 'a.example', 'a.example'],
    ['author', 'c.example', 'c.example'],
    ['hop', 'g.example', 'g.example'],
  ];
  const signatures: MessageSignature[] = [];
  for (const [role, domain, name] of signers) {
    const k = key(name);
    const previous = [...signatures];
    signatures.push(
      signManifest({
        manifestDigest: digest,
        previous,
        role,
        domain,
        keyId: k.keyId,
        privateKey: k.privateKey,
        created: VECTOR_NOW,
      }),
    );
  }
  const head: MessageHead = { manifest, signatures: signatures.slice(0, 1) };
  return {
    parts_base64: parts.map(b64),
    manifest,
    manifest_canonical: canonicalJson(manifest),
    manifest_digest: digest,
    signatures,
    /** Signing input of the hop signature: context, NUL, canonical payload (which includes `chain`). */
    hop_signing_input_hex: statementBytes('pmtp1/message-signature', {
      alg: 'ed25519',
      chain: sha256Base64Url(canonicalJson(signatures.slice(0, 2))),
      created: VECTOR_NOW,
      domain: 'g.example',
      key_id: key('g.example').keyId,
      manifest_digest: digest,
      role: 'hop',
    }).toString('hex'),
    notice: {
      id: manifest.id,
      version: 1,
      size: contentSize(manifest),
      manifest_digest: digest,
      sender: 'alice@a.example',
      recipients: ['bob@b.example'],
      expires: VECTOR_NOW + 5 * 86_400,
      fetch: fetchUrl('https://mx.a.example', manifest.id),
    },
    stream_full_base64: b64(
      encodeMessageStream(
        head,
        parts.map((data, index) => ({ index, data })),
      ),
    ),
    stream_text_base64: b64(encodeMessageStream(head, [{ index: 0, data: parts[0]! }])),
  };
}

function keyset() {
  const unsigned = {
    v: 1 as const,
    domain: 'a.example',
    published: VECTOR_NOW,
    keys: [currentKeyEntry(key('a.example').publicKey, VECTOR_NOW + 30 * 86_400)],
    old_keys: [oldKeyEntry(key('a.example (old)').publicKey, VECTOR_NOW - 86_400)],
  };
  return {
    now: VECTOR_NOW,
    signing_input_hex: statementBytes('pmtp1/keyset', unsigned).toString('hex'),
    keyset: signKeySet(unsigned, [key('a.example').privateKey]),
    dns_txt: formatDiscoveryRecord({ endpoint: 'https://mx.a.example', fingerprint: key('a.example').keyId }),
    // §8.7: the old key withdrawn instead of retired; a verifier refuses its signatures at any time
    revoking_keyset: signKeySet(
      {
        v: 1 as const,
        domain: 'a.example',
        published: VECTOR_NOW,
        keys: [currentKeyEntry(key('a.example').publicKey, VECTOR_NOW + 7 * 86_400)],
        old_keys: [],
        revoked: [{ key_id: key('a.example (old)').keyId, revoked_at: VECTOR_NOW - 3600 }],
      },
      [key('a.example').privateKey],
    ),
  };
}

function requestSignature() {
  const a = key('a.example');
  const b = key('b.example');
  const request = { method: 'POST', url: 'https://mx.b.example/pmtp/v1/notices', body: '{"notices":[]}' };
  const sign = {
    origin: 'a.example',
    destination: 'b.example',
    created: VECTOR_NOW,
    expires: VECTOR_NOW + 60,
    nonce: 'bm9uY2Utbm9uY2Utbm9uY2U',
  };
  const headers = signRequest(request, {
    signer: { domain: 'a.example', keyId: a.keyId, privateKey: a.privateKey },
    destination: sign.destination,
    body: Buffer.from(request.body),
    created: sign.created,
    expires: sign.expires,
    nonce: sign.nonce,
  });
  const params = (h: Record<string, string>) => h['signature-input']!.slice('pmtp='.length);
  const derived = requestDerivedComponents(request.method, request.url)!;
  const requestBase = signatureBase(
    REQUEST_COMPONENTS.map((c) => [c, derived[c.name] ?? headers[c.name]!] as const),
    params(headers),
  );
  const response = { status: 200, body: '{"results":[]}' };
  const responseHeaders = signResponse(
    { status: response.status, requestHeaders: headers },
    {
      signer: { domain: 'b.example', keyId: b.keyId, privateKey: b.privateKey },
      destination: 'a.example',
      body: Buffer.from(response.body),
      created: VECTOR_NOW,
      nonce: 'cmVzcG9uc2UtcmVzcG9uc2U',
    },
  );
  const requestSig = serializeMember(parseDictionary(headers.signature!).get('pmtp')!);
  const responseBase = signatureBase(
    RESPONSE_COMPONENTS.map(
      (c) =>
        [c, c.name === '@status' ? '200' : c.name === 'signature' ? requestSig : responseHeaders[c.name]!] as const,
    ),
    params(responseHeaders),
  );
  return {
    request,
    sign,
    signature_base: requestBase,
    headers,
    response,
    response_signature_base: responseBase,
    response_headers: responseHeaders,
  };
}

function senderToken() {
  const input = {
    token_id: 'tok_0123456789abcdef',
    issuer: 'b.example',
    recipient: 'bob@b.example',
    scope: { address: 'orders@shop.example' },
    expires: VECTOR_NOW + 3600,
    max_uses: 3,
  };
  return {
    input,
    signer: 'b.example',
    token: issueSenderToken(input, key('b.example').privateKey),
    valid_for_sender: 'orders@shop.example',
    now: VECTOR_NOW,
  };
}

/** bob's own server: its key is no domain key, so its seed is not one of RFC 8032's (SHA-256 of "pmtp1 delegate"). */
export const DELEGATE_SEED = '48041700a1d9d2ebd1b5ec6f9952b771a687a72f1a7e7e1e72548a7bf15098ad';

function delegation() {
  const delegate = domainKeyFromSeed(Buffer.from(DELEGATE_SEED, 'hex'));
  const input = {
    domain: 'b.example',
    recipient: 'bob@b.example',
    endpoint: 'https://bob-laptop.b.example:7443',
    delegate_key_hex: delegate.publicKey.toString('hex'),
    expires: VECTOR_NOW + 3600,
  };
  const proof = signDelegation({
    domain: input.domain,
    recipient: input.recipient,
    endpoint: input.endpoint,
    delegateKey: delegate.publicKey,
    expires: input.expires,
    privateKey: key('b.example').privateKey,
  });
  // the delegate pulls bob's message from a.example: origin b.example, keyid its own key's id
  const pull = {
    method: 'GET',
    url: 'https://mx.a.example/pmtp/v1/messages/q7Jt3nX0bWc1yZ9aKm4LpA?view=full&version=1',
  };
  const headers = signRequest(pull, {
    signer: { domain: 'b.example', keyId: delegate.keyId, privateKey: delegate.privateKey },
    destination: 'a.example',
    body: Buffer.alloc(0),
    created: VECTOR_NOW,
    expires: VECTOR_NOW + 60,
    nonce: 'ZGVsZWdhdGUtcHVsbC0wMDE',
  });
  const derived = requestDerivedComponents(pull.method, pull.url)!;
  const base = signatureBase(
    REQUEST_COMPONENTS.map((c) => [c, derived[c.name] ?? headers[c.name]!] as const),
    headers['signature-input']!.slice('pmtp='.length),
  );
  return {
    input,
    delegate_seed_hex: DELEGATE_SEED,
    delegate_key_id: delegate.keyId,
    signer: 'b.example',
    now: VECTOR_NOW,
    signing_input_hex: statementBytes('pmtp1/delegation', withoutSig(proof)).toString('hex'),
    proof,
    delegate_pull: { request: pull, headers, signature_base: base },
  };
}

function withoutSig<T extends { sig: string }>(signed: T): Omit<T, 'sig'> {
  const { sig: _, ...unsigned } = signed;
  return unsigned;
}

function proofOfWork() {
  const secret = Buffer.alloc(32, 7);
  const input = {
    bits: 12,
    salt_hex: '01'.repeat(16),
    noticeId: 'q7Jt3nX0bWc1yZ9aKm4LpA',
    sender: 'alice@a.example',
    recipient: 'bob@b.example',
    expires: VECTOR_NOW + 600,
  };
  const challenge = issueChallenge({ ...input, salt: Buffer.from(input.salt_hex, 'hex'), secret });
  const solution = solveChallenge(challenge)!;
  const hash = workHash(challenge, solution);
  return {
    secret_hex: secret.toString('hex'),
    input,
    now: VECTOR_NOW,
    challenge,
    challenge_id: challengeId(challenge),
    solution,
    work_hash_hex: hash.toString('hex'),
    leading_zero_bits: leadingZeroBits(hash),
  };
}

function dnsTxt() {
  const fp = key('a.example').keyId;
  return {
    valid: [
      { text: `v=PMTP1; e=https://mx.a.example; fp=${fp}`, endpoint: 'https://mx.a.example', fingerprint: fp },
      {
        text: `v=PMTP1;e=https://mx.a.example:8443;fp=${fp};x=ignored`,
        endpoint: 'https://mx.a.example:8443',
        fingerprint: fp,
      },
    ],
    invalid: [
      `e=https://mx.a.example; v=PMTP1; fp=${fp}`,
      `v=PMTP1; e=http://mx.a.example; fp=${fp}`,
      `v=PMTP1; e=https://mx.a.example/path; fp=${fp}`,
      `v=PMTP1; e=https://mx.a.example; e=https://mx.a.example; fp=${fp}`,
      'v=PMTP1; e=https://mx.a.example',
    ],
  };
}

export function buildVectors(): Record<string, unknown> {
  return {
    'keys.json': keys(),
    'canonical-json.json': canonical(),
    'message.json': message(),
    'keyset.json': keyset(),
    'request-signature.json': requestSignature(),
    'sender-token.json': senderToken(),
    'delegation.json': delegation(),
    'proof-of-work.json': proofOfWork(),
    'dns-txt.json': dnsTxt(),
  };
}
