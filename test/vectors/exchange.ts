// Builds exchange.json (docs/protocol.md §17.7): one notice → pull → ack between a.example and
// b.example, plus a status poll and a withdraw, with every request and response as sent on the wire.
// Kept apart from generate.ts so the vectors other work regenerates stay untouched.
import { domainKeyFromSeed } from '../../src/native/protocol/domain-keys.js';
import { fetchUrl, MESSAGE_STREAM_TYPE, PATHS } from '../../src/native/protocol/endpoints.js';
import { requestDerivedComponents, signatureBase } from '../../src/native/protocol/http-signature-base.js';
import { contentSize, describePart, type Manifest, manifestDigest } from '../../src/native/protocol/message-format.js';
import { encodeMessageStream } from '../../src/native/protocol/message-framing.js';
import { signManifest } from '../../src/native/protocol/message-signature.js';
import {
  REQUEST_COMPONENTS,
  RESPONSE_COMPONENTS,
  signRequest,
  signResponse,
} from '../../src/native/protocol/request-signature.js';
import { parseDictionary, serializeMember } from '../../src/native/protocol/structured-fields.js';
import { VECTOR_NOW, VECTOR_SEEDS } from './generate.js';

const A_ENDPOINT = 'https://mx.a.example';
const B_ENDPOINT = 'https://mx.b.example';
const JSON_TYPE = 'application/json';

const signerOf = (domain: 'a.example' | 'b.example') => {
  const key = domainKeyFromSeed(Buffer.from(VECTOR_SEEDS[domain]!, 'hex'));
  return { domain, keyId: key.keyId, privateKey: key.privateKey };
};

interface Step {
  from: string;
  to: string;
  method: 'GET' | 'POST' | 'DELETE';
  url: string;
  body: string;
  created: number;
  nonce: string;
}

/** The base a verifier rebuilds from the request it received: derived components, then header fields. */
function requestBase(method: string, url: string, headers: Record<string, string>): string {
  const derived = requestDerivedComponents(method, url)!;
  const params = headers['signature-input']!.slice('pmtp='.length);
  return signatureBase(
    REQUEST_COMPONENTS.map((c) => [c, derived[c.name] ?? headers[c.name]!] as const),
    params,
  );
}

function responseBase(status: number, requestHeaders: Record<string, string>, headers: Record<string, string>) {
  const requestSig = serializeMember(parseDictionary(requestHeaders.signature!).get('pmtp')!);
  const params = headers['signature-input']!.slice('pmtp='.length);
  return signatureBase(
    RESPONSE_COMPONENTS.map(
      (c) =>
        [c, c.name === '@status' ? String(status) : c.name === 'signature' ? requestSig : headers[c.name]!] as const,
    ),
    params,
  );
}

/** A signed request and, when `response` is given, its signed JSON answer, as both peers see them. */
function exchange(step: Step, response?: { status: number; body: string; created: number; nonce: string }) {
  const body = Buffer.from(step.body, 'utf8');
  const signed = signRequest(
    { method: step.method, url: step.url },
    {
      signer: signerOf(step.from as 'a.example'),
      destination: step.to,
      body,
      created: step.created,
      nonce: step.nonce,
    },
  );
  const headers = { ...(step.body === '' ? {} : { 'content-type': JSON_TYPE }), ...signed };
  const request = {
    method: step.method,
    url: step.url,
    headers,
    body: step.body,
    signature_base: requestBase(step.method, step.url, headers),
  };
  if (!response) return { request };
  const responseSigned = signResponse(
    { status: response.status, requestHeaders: headers },
    {
      signer: signerOf(step.to as 'a.example'),
      destination: step.from,
      body: Buffer.from(response.body, 'utf8'),
      created: response.created,
      nonce: response.nonce,
    },
  );
  const responseHeaders = { 'content-type': 'application/json; charset=utf-8', ...responseSigned };
  return {
    request,
    response: {
      status: response.status,
      headers: responseHeaders,
      body: response.body,
      signature_base: responseBase(response.status, headers, responseHeaders),
    },
  };
}

export function buildExchangeVector(): Record<string, unknown> {
  const text = Buffer.from('Hi Bob,\r\nthe report is attached.\r\n', 'utf8');
  const attachment = Buffer.from('00ff0a0d2e0d0a00', 'hex');
  const manifest: Manifest = {
    v: 1,
    id: 'ZXhjaGFuZ2UtdmVjdG9yLTE',
    version: 1,
    from: 'alice@a.example',
    headers: [
      ['From', 'Alice <alice@a.example>'],
      ['To', 'Bob <bob@b.example>'],
      ['Subject', 'Report'],
      ['Date', 'Thu, 01 Jan 2026 00:00:00 +0000'],
    ],
    parts: [
      describePart(text, { type: 'text/plain; charset=utf-8', role: 'body' }),
      describePart(attachment, {
        type: 'application/octet-stream',
        role: 'attachment',
        disposition: 'attachment',
        filename: 'report.bin',
      }),
    ],
    created: VECTOR_NOW,
  };
  const digest = manifestDigest(manifest);
  const a = signerOf('a.example');
  const origin = signManifest({
    manifestDigest: digest,
    previous: [],
    role: 'origin',
    domain: 'a.example',
    keyId: a.keyId,
    privateKey: a.privateKey,
    created: VECTOR_NOW,
  });
  const id = manifest.id;
  const noticeBody = JSON.stringify({
    v: 1,
    origin: 'a.example',
    destination: 'b.example',
    notices: [
      {
        id,
        version: 1,
        size: contentSize(manifest),
        manifest_digest: digest,
        sender: 'alice@a.example',
        recipients: ['bob@b.example'],
        expires: VECTOR_NOW + 5 * 86_400,
        fetch: fetchUrl(A_ENDPOINT, id),
      },
    ],
  });
  const notice = exchange(
    {
      from: 'a.example',
      to: 'b.example',
      method: 'POST',
      url: `${B_ENDPOINT}${PATHS.notices}`,
      body: noticeBody,
      created: VECTOR_NOW,
      nonce: 'ZXhjaGFuZ2Utbm90aWNl',
    },
    {
      status: 200,
      body: JSON.stringify({
        v: 1,
        results: [{ id, version: 1, recipients: [{ recipient: 'bob@b.example', disposition: 'accepted' }] }],
      }),
      created: VECTOR_NOW,
      nonce: 'ZXhjaGFuZ2Utbm90aWNlLXJl',
    },
  );
  const stream = encodeMessageStream({ manifest, signatures: [origin] }, [
    { index: 0, data: text },
    { index: 1, data: attachment },
  ]);
  const pull = exchange({
    from: 'b.example',
    to: 'a.example',
    method: 'GET',
    url: `${A_ENDPOINT}${PATHS.message(id)}?view=full&version=1`,
    body: '',
    created: VECTOR_NOW + 5,
    nonce: 'ZXhjaGFuZ2UtcHVsbA',
  });
  const ack = exchange(
    {
      from: 'b.example',
      to: 'a.example',
      method: 'POST',
      url: `${A_ENDPOINT}${PATHS.acks}`,
      body: JSON.stringify({
        v: 1,
        origin: 'b.example',
        destination: 'a.example',
        acks: [
          {
            id,
            version: 1,
            manifest_digest: digest,
            recipients: [{ recipient: 'bob@b.example', result: 'delivered' }],
          },
        ],
      }),
      created: VECTOR_NOW + 10,
      nonce: 'ZXhjaGFuZ2UtYWNr',
    },
    {
      status: 200,
      body: JSON.stringify({ v: 1, results: [{ id, version: 1, status: 'recorded' }] }),
      created: VECTOR_NOW + 10,
      nonce: 'ZXhjaGFuZ2UtYWNrLXJl',
    },
  );
  const cookie = 'Y29va2llLWNvb2tpZS1jb29raWU';
  const status = exchange(
    {
      from: 'a.example',
      to: 'b.example',
      method: 'GET',
      url: `${B_ENDPOINT}${PATHS.status(cookie)}`,
      body: '',
      created: VECTOR_NOW + 60,
      nonce: 'ZXhjaGFuZ2Utc3RhdHVz',
    },
    {
      status: 200,
      body: JSON.stringify({
        v: 1,
        id,
        version: 1,
        recipient: 'bob@b.example',
        disposition: 'deferred',
        cookie,
        min_poll_s: 60,
        max_poll_s: 3600,
      }),
      created: VECTOR_NOW + 60,
      nonce: 'ZXhjaGFuZ2Utc3RhdHVzLXJl',
    },
  );
  const withdrawRecipient = 'björn+news@b.example';
  const withdrawQuery = new URLSearchParams({ version: '1', reason: 'retracted', recipient: withdrawRecipient });
  const withdraw = exchange(
    {
      from: 'a.example',
      to: 'b.example',
      method: 'DELETE',
      url: `${B_ENDPOINT}${PATHS.notice(id)}?${withdrawQuery}`,
      body: '',
      created: VECTOR_NOW + 120,
      nonce: 'ZXhjaGFuZ2Utd2l0aGRyYXc',
    },
    {
      status: 200,
      body: JSON.stringify({
        v: 1,
        id,
        version: 1,
        recipients: [{ recipient: withdrawRecipient, outcome: 'withdrawn' }],
      }),
      created: VECTOR_NOW + 120,
      nonce: 'ZXhjaGFuZ2Utd2l0aGRyYXctcmU',
    },
  );
  return {
    endpoints: { 'a.example': A_ENDPOINT, 'b.example': B_ENDPOINT },
    keys: { 'a.example': a.keyId, 'b.example': signerOf('b.example').keyId },
    message: {
      manifest,
      manifest_digest: digest,
      signatures: [origin],
      parts_base64: [text, attachment].map((p) => p.toString('base64')),
    },
    notice,
    pull: {
      ...pull,
      response: {
        status: 200,
        headers: { 'content-type': MESSAGE_STREAM_TYPE, 'content-length': String(stream.length) },
        body_base64: stream.toString('base64'),
      },
    },
    ack,
    status,
    withdraw: { ...withdraw, recipient: withdrawRecipient },
  };
}
