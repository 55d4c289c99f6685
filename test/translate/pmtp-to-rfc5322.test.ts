// PMTP → RFC 5322: composing PMTP-born mail for SMTPUTF8 and 7-bit hops, and the typed errors that
// send a caller from the original bytes to the composed form.
import { isAscii } from 'node:buffer';
import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { pmtpAuthenticationResults } from '../../src/mail/trace-fields.js';
import { describePart, type Manifest } from '../../src/native/protocol/message-format.js';
import { pmtpToRfc5322 } from '../../src/translate/pmtp-to-rfc5322.js';
import { rfc5322ToPmtp } from '../../src/translate/rfc5322-to-pmtp.js';
import { TranslateError } from '../../src/translate/translate-error.js';
import { ARRIVAL, chunked, collect, crlf, memorySink, NOW, reader } from './support.js';

const TEXT = Buffer.from('Grüße aus München ☕\nZweite Zeile\n.\nEnde\n', 'utf8');
const HTML = Buffer.from('<p>Grüße aus <b>München</b> ☕</p>', 'utf8');
const BINARY = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919) % 256));
const TRACE = [
  pmtpAuthenticationResults({
    authservId: 'gw.b.example',
    result: 'pass',
    domain: 'a.example',
    trust: 'new-verified',
    author: 'aligned',
  }),
];
const SEVEN_BIT = { smtputf8: false, eightBitMime: false };
const UTF8_HOP = { smtputf8: true, eightBitMime: true };

function pmtpBorn(headers: Manifest['headers'] = []): { manifest: Manifest; parts: Buffer[] } {
  const parts = [TEXT, HTML, BINARY];
  const manifest: Manifest = {
    v: 1,
    id: 'pmtpBornMessage00001',
    version: 1,
    from: 'jorg@a.example',
    headers: [
      ['From', 'Jörg Müller <jorg@a.example>'],
      ['To', '"Zoë, Q." <zoe@b.example>'],
      ['Subject', 'Grüße aus München ☕ — Übersicht'],
      ['Date', 'Thu, 01 Jan 2026 00:00:00 +0000'],
      ['Message-ID', '<born-1@a.example>'],
      ...headers,
    ],
    parts: [
      describePart(TEXT, { type: 'text/plain; charset=utf-8', role: 'body' }),
      describePart(HTML, { type: 'text/html; charset=utf-8', role: 'alternative' }),
      describePart(BINARY, {
        type: 'application/pdf',
        role: 'attachment',
        disposition: 'attachment',
        filename: 'Übersicht 2026.pdf',
      }),
    ],
    created: NOW,
  };
  return { manifest, parts };
}

const render = (manifest: Manifest, parts: Buffer[], hop = SEVEN_BIT, original?: Buffer, useOriginal?: boolean) =>
  collect(pmtpToRfc5322(manifest, reader(manifest, parts, original), { trace: TRACE, hop, useOriginal }));

async function expectCode(promise: Promise<unknown>, code: string) {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TranslateError);
  expect((err as TranslateError).code).toBe(code);
}

describe('PMTP-born mail', () => {
  it('goes to a 7-bit hop as pure ASCII that parses back to the same subject, sender, text and attachment', async () => {
    const { manifest, parts } = pmtpBorn();
    const out = await render(manifest, parts);
    expect(isAscii(out)).toBe(true);
    expect(out.toString('latin1')).toMatch(
      /^Authentication-Results: gw\.b\.example;\r\n\tpmtp=pass header\.d=a\.example policy\.trust=new-verified policy\.author=aligned\r\nFrom: /,
    );
    const parsed = await simpleParser(out, { skipTextToHtml: true, skipTextLinks: true });
    expect(parsed.subject).toBe('Grüße aus München ☕ — Übersicht');
    expect(parsed.from?.value).toEqual([{ name: 'Jörg Müller', address: 'jorg@a.example' }]);
    expect((Array.isArray(parsed.to) ? parsed.to[0] : parsed.to)?.value).toEqual([
      { name: 'Zoë, Q.', address: 'zoe@b.example' },
    ]);
    expect(parsed.messageId).toBe('<born-1@a.example>');
    expect(parsed.text).toBe('Grüße aus München ☕\nZweite Zeile\n.\nEnde\n');
    expect(parsed.html).toBe(HTML.toString('utf8'));
    expect(parsed.attachments).toHaveLength(1);
    expect(parsed.attachments[0]!.filename).toBe('Übersicht 2026.pdf');
    expect(parsed.attachments[0]!.content.equals(BINARY)).toBe(true);
  });

  it('writes UTF-8 headers raw for an SMTPUTF8 hop', async () => {
    const { manifest, parts } = pmtpBorn();
    const head = (await render(manifest, parts, UTF8_HOP)).toString('utf8').split('\r\n\r\n')[0]!;
    expect(head).toContain('\r\nFrom: Jörg Müller <jorg@a.example>\r\n');
    expect(head).toContain('\r\nSubject: Grüße aus München ☕ — Übersicht\r\n');
    expect(head).not.toContain('=?');
  });

  it('is byte-for-byte the same on every run (no clock, no random boundary)', async () => {
    const { manifest, parts } = pmtpBorn();
    expect((await render(manifest, parts)).equals(await render(manifest, parts))).toBe(true);
  });

  it('escapes a text line holding only "." so no hop can read it as the end of DATA', async () => {
    const { manifest, parts } = pmtpBorn();
    const out = (await render(manifest, parts)).toString('latin1');
    expect(out).not.toContain('\r\n.\r\n');
    expect(out).toContain('\r\n=2E\r\n');
  });

  it('refuses an address with a UTF-8 local part for a hop without SMTPUTF8, before any byte', () => {
    const { manifest, parts } = pmtpBorn([['Cc', 'Jürgen <jürgen@b.example>']]);
    expect(() => pmtpToRfc5322(manifest, reader(manifest, parts), { trace: TRACE, hop: SEVEN_BIT })).toThrow(
      expect.objectContaining({ code: 'smtputf8_required' }),
    );
  });

  it('fails with part_mismatch when a stored part was altered', async () => {
    const { manifest, parts } = pmtpBorn();
    const tampered = [parts[0]!, parts[1]!, Buffer.concat([parts[2]!.subarray(0, -1), Buffer.from([0])])];
    await expectCode(render(manifest, tampered), 'part_mismatch');
  });

  it('refuses a trace field that is not one CRLF-ended header field', () => {
    const { manifest, parts } = pmtpBorn();
    const bad = (trace: string[]) => () => pmtpToRfc5322(manifest, reader(manifest, parts), { trace, hop: SEVEN_BIT });
    expect(bad(['Received: x\n'])).toThrow(expect.objectContaining({ code: 'trace_invalid' }));
    expect(bad(['Received: x\r\n\r\n'])).toThrow(expect.objectContaining({ code: 'trace_invalid' }));
  });
});

describe('SMTP-born mail', () => {
  async function converted(eml: Buffer) {
    const { sink, parts } = memorySink();
    const manifest = await rfc5322ToPmtp(chunked(eml), ARRIVAL, sink);
    return { manifest, parts };
  }

  it('fails with original_mismatch when the original part was tampered with, and composes on request', async () => {
    const eml = crlf([
      'From: Alice <alice@a.example>',
      'To: bob@b.example',
      'Subject: Grüße',
      'Message-ID: <s1@a.example>',
      '',
      'Körper',
      'Ende',
    ]);
    const { manifest, parts } = await converted(eml);
    const flipped = Buffer.from(eml);
    flipped[flipped.length - 3]! ^= 0x20;
    await expectCode(render(manifest, parts, UTF8_HOP, flipped), 'original_mismatch');
    await expectCode(
      render(manifest, parts, UTF8_HOP, Buffer.concat([eml, Buffer.from('x\r\n')])),
      'original_mismatch',
    );
    const composed = await simpleParser(await render(manifest, parts, SEVEN_BIT, flipped, false));
    expect(composed.subject).toBe('Grüße');
    expect(composed.messageId).toBe('<s1@a.example>');
    expect(composed.text).toBe('Körper\nEnde\n');
  });

  it('names why the original cannot go to this hop: a "." line, UTF-8 headers, 8-bit body', async () => {
    const cases: Array<[string[], string, { smtputf8: boolean; eightBitMime: boolean }]> = [
      [['Subject: dot', '', 'a', '.', 'b'], 'dot_line', UTF8_HOP],
      [['Subject: Grüße', '', 'plain'], 'smtputf8_required', SEVEN_BIT],
      [['Subject: plain', '', 'Körper'], 'eightbit_required', SEVEN_BIT],
    ];
    for (const [lines, code, hop] of cases) {
      const eml = crlf(['From: Alice <alice@a.example>', ...lines]);
      const { manifest, parts } = await converted(eml);
      await expectCode(render(manifest, parts, hop, eml), code);
    }
  });

  it('sends an 8-bit body unchanged to an 8BITMIME hop', async () => {
    const eml = crlf(['From: Alice <alice@a.example>', 'Subject: plain', '', 'Körper']);
    const { manifest, parts } = await converted(eml);
    const out = await render(manifest, parts, { smtputf8: false, eightBitMime: true }, eml);
    expect(out.equals(Buffer.concat([Buffer.from(TRACE.join('')), eml]))).toBe(true);
  });
});
