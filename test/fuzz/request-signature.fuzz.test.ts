// Fuzzes the RFC 9421 request verifier: random mutations of a validly signed request's headers,
// method, URL and body never make verifyRequest throw, and never verify unless everything the
// signature covers (derived components, covered fields, body, parameters) is unchanged.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fieldValue, type HeaderBag } from '../../src/native/protocol/http-signature-base.js';
import { verifyRequest } from '../../src/native/protocol/request-signature.js';
import { corpus, RUNS } from './fuzz-support.js';
import {
  signedBody as body,
  checkSignedRequest as check,
  signedHeaders as headers,
  verifyOptions as options,
  signedRequest as original,
  type SignedRequest as Req,
} from './oracles.js';

const text = fc.string({ unit: fc.constantFrom(...'pmtp=:;,"()*?  \t\r\n\0aZ09+/=-_.@éx'.split('')), maxLength: 40 });
const headerName = fc.constantFrom(
  ...Object.keys(headers),
  'Signature',
  'SIGNATURE-INPUT',
  'pmtp-origin ',
  'host',
  'x-extra',
);
/** One edit to a string: replace, insert, delete, case-flip or truncate at a random place. */
const edit = fc.tuple(fc.constantFrom('replace', 'insert', 'delete', 'case', 'cut', 'whole'), fc.nat(400), text);
function apply(value: string, [op, at, t]: [string, number, string]): string {
  const i = value.length === 0 ? 0 : at % value.length;
  if (op === 'replace') return value.slice(0, i) + t.slice(0, 1) + value.slice(i + 1);
  if (op === 'insert') return value.slice(0, i) + t + value.slice(i);
  if (op === 'delete') return value.slice(0, i) + value.slice(i + t.length + 1);
  if (op === 'case')
    return (
      value.slice(0, i) +
      (value[i] === value[i]?.toUpperCase() ? value[i]?.toLowerCase() : value[i]?.toUpperCase()) +
      value.slice(i + 1)
    );
  if (op === 'cut') return value.slice(0, i);
  return t;
}

const mutation = fc.oneof(
  fc.record({
    kind: fc.constant('header' as const),
    name: headerName,
    edit,
    asArray: fc.boolean(),
    drop: fc.boolean(),
  }),
  fc.record({ kind: fc.constantFrom('method' as const, 'url' as const, 'body' as const), edit }),
);

type Mutation = { kind: string; name?: string; edit: [string, number, string]; asArray?: boolean; drop?: boolean };

function mutate(r: Req, m: Mutation): Req {
  if (m.kind === 'method') return { ...r, method: apply(r.method, m.edit) };
  if (m.kind === 'url') return { ...r, url: apply(r.url, m.edit) };
  if (m.kind === 'body')
    return { ...r, body: Buffer.from(apply(Buffer.from(r.body).toString('latin1'), m.edit), 'latin1') };
  const next: Record<string, string | readonly string[] | undefined> = { ...r.headers };
  const current = fieldValue(r.headers, m.name!) ?? '';
  if (m.drop) delete next[m.name!];
  else next[m.name!] = m.asArray ? [current, apply(current, m.edit)] : apply(current, m.edit);
  return { ...r, headers: next };
}

describe('fuzz: request signature verifier', () => {
  it('the unmutated request verifies (the oracle starts from a good signature)', async () => {
    expect((await verifyRequest(original, options)).ok).toBe(true);
  });

  for (const [name, bytes] of corpus('request-signature')) {
    it(`corpus ${name}`, async () => {
      const seed = JSON.parse(bytes.toString('utf8')) as Partial<Req> & { headers?: HeaderBag };
      await check({
        ...original,
        ...seed,
        headers: { ...headers, ...seed.headers },
        body: seed.body ? Buffer.from(String(seed.body)) : body,
      });
    });
  }

  it('random mutations (1 to 4 at once) never throw and never verify a changed request', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (ms) => {
        await check(ms.reduce((r, m) => mutate(r, m), original));
      }),
      { numRuns: RUNS * 5 },
    );
  });
});
