// Hand-made PMTP requests for attack tests: sign as a node (or with any key), tamper, replay.
import type { DomainKey } from '../../../src/native/protocol/domain-keys.js';
import { signRequest } from '../../../src/native/protocol/request-signature.js';

export interface RawCall {
  readonly url: string;
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body?: Buffer;
}

export function signedCall(options: {
  key: DomainKey;
  origin: string;
  destination: string;
  method: string;
  url: string;
  body?: unknown;
  created?: number;
  expires?: number;
}): RawCall {
  const body =
    options.body === undefined
      ? Buffer.alloc(0)
      : Buffer.isBuffer(options.body)
        ? options.body
        : Buffer.from(JSON.stringify(options.body));
  const created = options.created ?? Math.floor(Date.now() / 1000);
  const headers = signRequest(
    { method: options.method, url: options.url },
    {
      signer: { domain: options.origin, keyId: options.key.keyId, privateKey: options.key.privateKey },
      destination: options.destination,
      body,
      created,
      ...(options.expires ? { expires: options.expires } : {}),
    },
  );
  return {
    url: options.url,
    method: options.method,
    headers: { ...headers, 'content-type': 'application/json' },
    ...(options.body === undefined ? {} : { body }),
  };
}

// biome-ignore lint/suspicious/noExplicitAny: tests read whatever JSON the server answered, hostile shapes included
export async function send(call: RawCall): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(call.url, {
    method: call.method,
    headers: call.headers,
    ...(call.body ? { body: call.body } : {}),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}
