// Fuzzes rfc5322ToPmtp with random and structured MIME (nesting, boundaries, encodings, junk):
// it settles with a manifest or a TranslateError, never another throw, whatever the chunking; no
// event-loop stall over STALL_MS (default 250, generous for CI) and the max is printed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { longestStall } from './coverage-fuzzer.js';
import { corpus, RUNS } from './fuzz-support.js';
import { convertRfc5322 as convert } from './oracles.js';

const STALL_MS = Number(process.env.STALL_MS ?? 250);

const token = fc.stringMatching(/^[a-z0-9]{1,8}$/);
const headerLine = fc.oneof(
  fc.constantFrom(
    'From: a@a.example',
    'From: "x\\" <a@a.example>',
    'From: =?utf-8?B?w6k=?= <a@a.example>',
    'From:',
    'To: b@b.example',
    'Subject: =?x?Q?bad',
    'Content-Transfer-Encoding: base64',
    'Content-Transfer-Encoding: quoted-printable',
    'Content-Disposition: attachment; filename="../../x"',
    'Content-Type: text/html',
    'Content-Type: message/rfc822',
    'Bcc: c@c.example',
    ' folded continuation',
  ),
  fc.tuple(token, fc.string({ maxLength: 30 })).map(([n, v]) => `X-${n}: ${v}`),
);
/** A MIME tree up to depth 4, with real or wrong boundaries. */
const { node } = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc
      .tuple(fc.array(headerLine, { maxLength: 3 }), fc.string({ maxLength: 60 }))
      .map(([h, body]) => `${h.join('\r\n')}\r\nContent-Type: text/plain\r\n\r\n${body}\r\n`),
    fc
      .tuple(token, fc.array(tie('node'), { maxLength: 4 }), fc.boolean())
      .map(
        ([b, kids, close]) =>
          `Content-Type: multipart/mixed; boundary="${b}"\r\n\r\n${kids.map((k) => `--${b}\r\n${k}`).join('')}${close ? `--${b}--\r\n` : ''}`,
      ),
  ),
}));
const message = fc
  .tuple(fc.array(headerLine, { maxLength: 6 }), node, fc.string({ maxLength: 40 }))
  .map(([h, n, tail]) => Buffer.from(`${h.join('\r\n')}${h.length ? '\r\n' : ''}${n}${tail}`, 'utf8'));
const sizes = fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 4 });

describe('fuzz: rfc5322ToPmtp', () => {
  // includes two former bugs past mailsplit's 1,000-node limit (EMAXLEN): a conversion that never
  // settled, and a plain Error instead of a TranslateError; both now end in too_many_parts
  for (const [name, bytes] of corpus('rfc5322')) {
    it(`corpus ${name}`, async () => {
      const whole = await convert(bytes, [65536]);
      expect(await convert(bytes, [7, 1, 300])).toBe(whole);
    });
  }

  it(`structured and random messages: settle, chunking-independent, no stall over ${STALL_MS} ms`, async () => {
    let slowest = 0;
    const stall = await longestStall(() =>
      fc.assert(
        fc.asyncProperty(
          fc.oneof(
            message,
            fc.uint8Array({ maxLength: 500 }).map((a) => Buffer.from(a)),
          ),
          sizes,
          async (bytes, cut) => {
            const started = performance.now();
            const whole = await convert(bytes, [65536]);
            slowest = Math.max(slowest, performance.now() - started);
            expect(await convert(bytes, cut)).toBe(whole);
          },
        ),
        { numRuns: RUNS * 2 },
      ),
    );
    console.log(
      `rfc5322ToPmtp fuzz: slowest conversion ${slowest.toFixed(1)} ms, longest event-loop stall ${stall.toFixed(1)} ms`,
    );
    expect(stall).toBeLessThan(STALL_MS);
  });
});
