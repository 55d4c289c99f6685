// Property: for generated RFC 5322 messages (ASCII and UTF-8 header values, folded or not, bodies of
// arbitrary octets in CRLF lines, sometimes multipart with a binary attachment), SMTP → PMTP → SMTP
// gives back the exact bytes under the trace fields, and how the input is chunked never changes the
// manifest. Lines holding only "." are left out: they take the compose path (see pmtp-to-rfc5322.test).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pmtpToRfc5322 } from '../../src/translate/pmtp-to-rfc5322.js';
import { rfc5322ToPmtp } from '../../src/translate/rfc5322-to-pmtp.js';
import { ARRIVAL, chunked, collect, memorySink, reader } from './support.js';

const TRACE = [
  'Received: by gw.b.example (mailbridge) with PMTP id 0ABCDEFGHJ12345678;\r\n\tThu, 01 Jan 2026 00:00:00 +0000\r\n',
];

const word = fc.oneof(
  fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 12 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }),
);
const clean = (w: string) => w.replace(/[\r\n\0]/g, '').trim() || 'x';
/** Words joined by a space or a fold. */
const headerValue = fc
  .array(fc.tuple(word, fc.constantFrom(' ', ' ', '\r\n ', '\r\n\t')), { minLength: 1, maxLength: 6 })
  .map((words) => words.map(([w, sep], i) => (i === 0 ? '' : sep) + clean(w)).join(''));
const header = fc.tuple(
  fc.constantFrom('Subject', 'To', 'Cc', 'X-Note', 'Comments', 'Keywords', 'X-Mailer', 'Reply-To'),
  headerValue,
);

/** One line of any octets but CR and LF (sometimes text that looks like a header field), never a lone ".". */
const line = fc
  .oneof(
    fc.uint8Array({ maxLength: 90 }),
    fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map((s) => Buffer.from(`Note: ${s}`)),
  )
  .map((bytes) => {
    const clean = Buffer.from(bytes.filter((b) => b !== 0x0a && b !== 0x0d));
    return clean.equals(Buffer.from('.')) ? Buffer.from('..') : clean;
  });
const textBody = fc
  .array(line, { maxLength: 20 })
  .map((lines) => Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\r\n')])));

const multipart = fc.tuple(textBody, fc.uint8Array({ maxLength: 400 })).map(([text, attachment]) => {
  const b64 = Buffer.from(attachment).toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.concat([
    Buffer.from(
      'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b-1"\r\n\r\n--b-1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n',
    ),
    text,
    Buffer.from(
      `\r\n--b-1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="a.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64}\r\n--b-1--\r\n`,
    ),
  ]);
});

const message = fc
  .tuple(
    fc.array(header, { maxLength: 8 }),
    fc.oneof(
      textBody.map((b) => Buffer.concat([Buffer.from('\r\n'), b])),
      multipart,
    ),
  )
  .map(([headers, rest]) => {
    const lines = ['From: Alice <alice@a.example>', ...headers.map(([n, v]) => `${n}: ${v}`)]
      .map((l) => `${l}\r\n`)
      .join('');
    // the multipart variant carries its own MIME fields, then the empty line
    return Buffer.concat([Buffer.from(lines, 'utf8'), rest]);
  });

const chunkSizes = fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 8 });

describe('RFC 5322 → PMTP → RFC 5322', () => {
  it('gives back the original bytes, whatever the chunking', async () => {
    await fc.assert(
      fc.asyncProperty(message, chunkSizes, async (eml, sizes) => {
        const whole = memorySink();
        const manifest = await rfc5322ToPmtp(chunked(eml, [eml.length]), ARRIVAL, whole.sink);
        const split = memorySink();
        expect(await rfc5322ToPmtp(chunked(eml, sizes), ARRIVAL, split.sink)).toEqual(manifest);
        expect(split.parts).toEqual(whole.parts);

        const hop = { smtputf8: true, eightBitMime: true };
        const out = await collect(pmtpToRfc5322(manifest, reader(manifest, whole.parts, eml), { trace: TRACE, hop }));
        expect(out.equals(Buffer.concat([Buffer.from(TRACE.join('')), eml]))).toBe(true);
      }),
      { numRuns: 150 },
    );
  });
});
