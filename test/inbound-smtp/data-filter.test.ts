// Newline hygiene and line limits, alone and as the DATA Transform. The properties: the result
// never depends on how the bytes were chunked; `normalise` leaves no bare CR or LF; `reject`
// passes CRLF-clean input through unchanged and refuses everything else.
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MailbridgeError } from '../../src/codes.js';
import { MessageDataFilter } from '../../src/inbound-smtp/data-filter.js';
import { LineLimits } from '../../src/inbound-smtp/line-limits.js';
import { type BareNewlinePolicy, NewlineHygiene } from '../../src/inbound-smtp/newline-hygiene.js';

type Outcome = { ok: true; bytes: string } | { ok: false; code: string };

function run(policy: BareNewlinePolicy, chunks: Buffer[]): Outcome {
  const hygiene = new NewlineHygiene(policy);
  try {
    const out = chunks.map((c) => hygiene.push(c));
    out.push(hygiene.end());
    return { ok: true, bytes: Buffer.concat(out).toString('latin1') };
  } catch (err) {
    return { ok: false, code: (err as MailbridgeError).code };
  }
}

function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    out.push(bytes.subarray(last, p));
    last = p;
  }
  out.push(bytes.subarray(last));
  return out;
}

const messageBytes = fc
  .array(fc.constantFrom(0x0d, 0x0a, 0x2e, 0x41, 0x20), { maxLength: 60 })
  .map((a) => Buffer.from(a));
const hasBare = (s: string): boolean => /\r(?!\n)|(?<!\r)\n/.test(s);

describe('NewlineHygiene', () => {
  it('rejects a bare LF and a bare CR with bare_newline (550 5.5.2)', () => {
    expect(run('reject', [Buffer.from('a\nb\r\n')])).toEqual({ ok: false, code: 'bare_newline' });
    expect(run('reject', [Buffer.from('a\rb\r\n')])).toEqual({ ok: false, code: 'bare_newline' });
    expect(run('reject', [Buffer.from('a\r')])).toEqual({ ok: false, code: 'bare_newline' });
  });

  it('passes CRLF across a chunk boundary', () => {
    expect(run('reject', [Buffer.from('a\r'), Buffer.from('\nb\r\n')])).toEqual({ ok: true, bytes: 'a\r\nb\r\n' });
  });

  it('normalises every smuggling ending to CRLF', () => {
    expect(run('normalise', [Buffer.from('x\n.\ny\n.\r\nz\r.\rw\r\n.\n')])).toEqual({
      ok: true,
      bytes: 'x\r\n.\r\ny\r\n.\r\nz\r\n.\r\nw\r\n.\r\n',
    });
  });

  for (const policy of ['reject', 'normalise'] as const) {
    it(`${policy}: the result does not depend on chunking (property)`, () => {
      fc.assert(
        fc.property(messageBytes, fc.array(fc.nat(), { maxLength: 8 }), (bytes, cuts) => {
          expect(run(policy, chunked(bytes, cuts))).toEqual(run(policy, [bytes]));
        }),
        { numRuns: 2000 },
      );
    });
  }

  it('normalise leaves no bare CR or LF and changes nothing in CRLF-clean input (property)', () => {
    fc.assert(
      fc.property(messageBytes, (bytes) => {
        const out = run('normalise', [bytes]);
        expect(out.ok).toBe(true);
        if (!out.ok) return;
        expect(hasBare(out.bytes)).toBe(false);
        if (!hasBare(bytes.toString('latin1'))) expect(out.bytes).toBe(bytes.toString('latin1'));
      }),
      { numRuns: 2000 },
    );
  });

  it('reject accepts exactly the CRLF-clean inputs, unchanged (property)', () => {
    fc.assert(
      fc.property(messageBytes, (bytes) => {
        const text = bytes.toString('latin1');
        expect(run('reject', [bytes])).toEqual(
          hasBare(text) ? { ok: false, code: 'bare_newline' } : { ok: true, bytes: text },
        );
      }),
      { numRuns: 2000 },
    );
  });
});

describe('LineLimits', () => {
  const limits = (): LineLimits => new LineLimits({ maxLineBytes: 10, maxHeaderBytes: 30 });
  const codeOf = (fn: () => void): string | undefined => {
    try {
      fn();
    } catch (err) {
      return (err as MailbridgeError).code;
    }
    return undefined;
  };

  it('allows a line of exactly the limit and refuses one byte more', () => {
    expect(codeOf(() => limits().push(Buffer.from('A: 4567890\r\n\r\n')))).toBeUndefined();
    expect(codeOf(() => limits().push(Buffer.from('A: 45678901\r\n')))).toBe('line_too_long');
  });

  it('counts the header section up to the blank line, and not the body', () => {
    const l = limits();
    l.push(Buffer.from('A: 1\r\nB: 2\r\n\r\n'));
    expect(l.headerEnded).toBe(true);
    expect(codeOf(() => l.push(Buffer.from('body line\r\n'.repeat(20))))).toBeUndefined();
    expect(codeOf(() => limits().push(Buffer.from('A: 1\r\n'.repeat(6))))).toBe('header_too_large');
  });
});

describe('MessageDataFilter', () => {
  const settings = { bareNewlines: 'normalise' as const, maxLineBytes: 100, maxHeaderBytes: 1000 };

  it('streams the cleaned bytes through', async () => {
    const out = await buffer(
      Readable.from([Buffer.from('A: b\n\nbo'), Buffer.from('dy\r')]).pipe(new MessageDataFilter(settings)),
    );
    expect(out.toString()).toBe('A: b\r\n\r\nbody\r\n');
  });

  it('fails the pipeline with the status code of the first offence', async () => {
    const source = Readable.from([Buffer.from('A: b\r\n'), Buffer.from('oops\n')]);
    const error = await pipeline(
      source,
      new MessageDataFilter({ ...settings, bareNewlines: 'reject' }),
      async function* (s) {
        for await (const _ of s) yield;
      },
    ).catch((e: unknown) => e);
    expect((error as MailbridgeError).code).toBe('bare_newline');
  });
});
