// The §9.1 `@target-uri` rule: query values form-encoded on their UTF-8 octets, the URI in WHATWG
// serialised form, and a verifier that rebuilds the same string from its endpoint and the raw target.
import fc from 'fast-check';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { requestDerivedComponents } from '../../../src/native/protocol/http-signature-base.js';

const endpoint = 'https://mx.b.example';
const withdrawTarget = (recipient: string) =>
  `/pmtp/v1/notices/q7Jt3nX0bWc1yZ9aKm4LpA?${new URLSearchParams({ version: '2', reason: 'retract', recipient })}`;

describe('@target-uri (§9.1)', () => {
  it('encodes a UTF-8 local part, + and @ in a query value as the spec example says', () => {
    const target = withdrawTarget('björn+news@b.example');
    expect(target).toBe(
      '/pmtp/v1/notices/q7Jt3nX0bWc1yZ9aKm4LpA?version=2&reason=retract&recipient=bj%C3%B6rn%2Bnews%40b.example',
    );
    expect(requestDerivedComponents('DELETE', `${endpoint}${target}`)?.['@target-uri']).toBe(`${endpoint}${target}`);
    expect(new URLSearchParams('r=a~b*c d').toString()).toBe('r=a%7Eb*c+d');
  });

  it('leaves percent-escapes as sent: the verifier does not normalise them (RFC 3986 §6 would)', () => {
    for (const raw of ['/x?r=%7E', '/x?r=~', '/x?r=%c3%b6', '/x?r=%C3%B6']) {
      expect(requestDerivedComponents('GET', `${endpoint}${raw}`)?.['@target-uri']).toBe(`${endpoint}${raw}`);
    }
  });

  it('a form-encoded query is its own WHATWG serialisation, whatever the value (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (value) => {
        const url = `${endpoint}${withdrawTarget(value)}`;
        expect(requestDerivedComponents('DELETE', url)?.['@target-uri']).toBe(url);
      }),
    );
  });

  it('a Fastify server sees the raw target (so rebuilds the signed URI) and decodes the value back', async () => {
    const app = Fastify();
    app.delete('/pmtp/v1/notices/:id', async (request) => ({ url: request.url, query: request.query }));
    try {
      await fc.assert(
        fc.asyncProperty(fc.string({ unit: 'grapheme', maxLength: 40 }), async (recipient) => {
          const target = withdrawTarget(recipient);
          const response = await app.inject({ method: 'DELETE', url: target });
          const seen = response.json() as { url: string; query: Record<string, string> };
          expect(`${endpoint}${seen.url}`).toBe(`${endpoint}${target}`);
          expect(seen.query.recipient).toBe(recipient);
        }),
        { numRuns: 50 },
      );
    } finally {
      await app.close();
    }
  });
});
