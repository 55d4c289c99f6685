// The output guard: bare newlines, lone "." lines and 8-bit octets are caught however the bytes are
// chunked, and a "." line is escaped as "=2E" only when asked to.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type WireRules, wireGuard } from '../../src/translate/wire-guard.js';
import { chunked, collect } from './support.js';

const STRICT: WireRules = { smtputf8: false, eightBitMime: false, dotLines: 'reject' };
const run = (text: string | Buffer, rules: WireRules = STRICT, sizes = [1]) =>
  collect(wireGuard(chunked(Buffer.from(text), sizes), rules));

async function codeOf(text: string | Buffer, rules: WireRules = STRICT, sizes = [1]) {
  return run(text, rules, sizes).then(
    () => 'ok',
    (e: { code?: string }) => e.code,
  );
}

describe('wireGuard', () => {
  it('passes CRLF text through unchanged, whatever the chunking', async () => {
    const text = 'A: b\r\n c\r\n\r\nline\r\n..\r\n.x\r\n\r\nend';
    for (const sizes of [[1], [2], [3], [5, 1], [100]]) expect((await run(text, STRICT, sizes)).toString()).toBe(text);
  });

  it('finds bare CR and bare LF anywhere, also split across chunks and at the end', async () => {
    for (const text of ['A: b\n', 'A: b\r\r\n', 'A: b\r\n\nx', '\nA: b', 'A: b\r\n\r\nx\ry\r\n', 'A: b\r\n\r\nx\r']) {
      for (const sizes of [[1], [2], [64]]) expect(await codeOf(text, STRICT, sizes)).toBe('bare_newline');
    }
  });

  it('rejects a line holding only "." (at the start, middle or end), or escapes it when told to', async () => {
    for (const text of ['.\r\nA: b\r\n', 'A: b\r\n\r\nx\r\n.\r\ny\r\n', 'A: b\r\n\r\nx\r\n.']) {
      for (const sizes of [[1], [2], [3], [64]]) expect(await codeOf(text, STRICT, sizes)).toBe('dot_line');
    }
    const escapeDots = { ...STRICT, dotLines: 'escape' } as const;
    for (const sizes of [[1], [2], [3], [64]]) {
      expect((await run('A: b\r\n\r\nx\r\n.\r\n.\r\ny\r\n', escapeDots, sizes)).toString()).toBe(
        'A: b\r\n\r\nx\r\n=2E\r\n=2E\r\ny\r\n',
      );
    }
  });

  it('allows UTF-8 in headers only with SMTPUTF8, and 8-bit body octets only with 8BITMIME or SMTPUTF8', async () => {
    const head = 'Subject: Grüße\r\n\r\nbody\r\n';
    const body = 'Subject: x\r\n\r\nKörper\r\n';
    expect(await codeOf(head)).toBe('smtputf8_required');
    expect(await codeOf(head, { ...STRICT, eightBitMime: true })).toBe('smtputf8_required');
    expect(await codeOf(head, { ...STRICT, smtputf8: true })).toBe('ok');
    expect(await codeOf(body)).toBe('eightbit_required');
    expect(await codeOf(body, { ...STRICT, eightBitMime: true })).toBe('ok');
    expect(await codeOf(body, { ...STRICT, smtputf8: true })).toBe('ok');
  });

  it('agrees with a line-by-line reference on generated input', async () => {
    const piece = fc.constantFrom('a', 'ü', '.', '\r', '\n', '\r\n', ':', ' ');
    await fc.assert(
      fc.asyncProperty(
        fc.array(piece, { maxLength: 30 }),
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }),
        async (pieces, sizes) => {
          const text = pieces.join('');
          const found = reference(text);
          expect(found.length === 0 ? ['ok'] : found).toContain(
            await codeOf(text, { ...STRICT, smtputf8: true }, sizes),
          );
        },
      ),
    );
  });
});

/** Every rule the text breaks, read line by line (the guard reports whichever it meets first). */
function reference(text: string): string[] {
  const broken: string[] = [];
  if (/\r(?!\n)|(?<!\r)\n/.test(text)) broken.push('bare_newline');
  if (text.split(/\r\n|\r|\n/).some((l) => l === '.')) broken.push('dot_line');
  return broken;
}
