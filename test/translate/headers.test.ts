// Header handling, piece by piece: RFC 2047 decoding, splitting a header section, mapping fields to
// manifest headers and the `from` address, encoding them back, and the trace fields.
import { describe, expect, it } from 'vitest';
import { traceBlock } from '../../src/mail/trace-fields.js';
import { decodeStructured, decodeWords } from '../../src/translate/encoded-words.js';
import { encodeHeaders } from '../../src/translate/header-encoding.js';
import { fromAddress, manifestHeaders } from '../../src/translate/header-mapping.js';
import { HeaderSectionCollector, MAX_HEADER_SECTION, parseHeaderSection } from '../../src/translate/header-section.js';

describe('RFC 2047 decoding', () => {
  it('decodes B and Q words, joins adjacent words and multi-byte characters split between them', () => {
    expect(decodeWords('=?UTF-8?B?SGVsbG8=?= =?utf-8?q?_w=C3=B6rld?= !')).toBe('Hello wörld !');
    expect(decodeWords('=?utf-8?B?w6k=?= \t =?ISO-8859-1?Q?=E9?= =?bogus?q?x?= =?utf-8?q?=C3=A9?=')).toBe(
      'éé=?bogus?q?x?=é',
    );
    expect(decodeWords('=?utf-8?B?SsM=?= =?utf-8?B?tnJn?=')).toBe('Jörg');
    expect(decodeWords('=?utf-8*de?q?Gr=C3=BC=C3=9Fe?=')).toBe('Grüße');
  });

  it('keeps a word in an unknown or refused charset as written, and plain text untouched', () => {
    expect(decodeWords('=?utf-7?q?+ADw-script+AD4-?=')).toBe('=?utf-7?q?+ADw-script+AD4-?=');
    expect(decodeWords('a =? b ?= c')).toBe('a =? b ?= c');
  });

  it('quotes a decoded phrase holding specials, so an address field keeps its addresses', () => {
    expect(decodeStructured('=?utf-8?q?Evil=2C_Eve?= <eve@a.example>')).toBe('"Evil, Eve" <eve@a.example>');
    expect(decodeStructured('"=?utf-8?q?say_=22hi=22?=" <a@a.example>')).toBe('"say \\"hi\\"" <a@a.example>');
    expect(decodeStructured('a@a.example (=?utf-8?q?J=C3=B6rg_=28x=29?=)')).toBe('a@a.example (Jörg \\(x\\))');
  });
});

describe('header section', () => {
  it('finds the end of the header section across any chunking, and splits fields in order', () => {
    const eml = Buffer.from('From mbox-line\r\nA: 1\r\nB :  two\r\n\tfolded \r\nBad Name: x\r\n\r\nC: body\r\n');
    for (let size = 1; size <= eml.length; size++) {
      const collector = new HeaderSectionCollector();
      for (let at = 0; at < eml.length; at += size) collector.push(eml.subarray(at, at + size));
      expect(parseHeaderSection(collector.section())).toEqual([
        { name: 'A', value: '1' },
        { name: 'B', value: 'two\tfolded' },
      ]);
    }
  });

  it('reads LF-only input, raw UTF-8 and Latin-1 octets, and a message without a body', () => {
    const section = Buffer.concat([Buffer.from('X: Grüße\nY: caf'), Buffer.from([0xe9]), Buffer.from('\n')]);
    expect(parseHeaderSection(section)).toEqual([
      { name: 'X', value: 'Grüße' },
      { name: 'Y', value: 'café' },
    ]);
    const collector = new HeaderSectionCollector();
    collector.push(Buffer.from('Subject: only headers\r\n'));
    expect(parseHeaderSection(collector.section())).toEqual([{ name: 'Subject', value: 'only headers' }]);
  });

  it('refuses a header section larger than it reads', () => {
    const collector = new HeaderSectionCollector();
    expect(() => collector.push(Buffer.alloc(MAX_HEADER_SECTION + 10, 0x41))).toThrow(
      expect.objectContaining({ code: 'header_too_large' }),
    );
  });
});

describe('manifest headers and from', () => {
  const fields = parseHeaderSection(
    Buffer.from(
      'Authentication-Results: MX.B.Example; dkim=pass\r\nAuthentication-Results: other.example; spf=pass\r\n' +
        'From: =?utf-8?q?J=C3=B6rg?= <Jorg@Bücher.Example>\r\nBcc: x@b.example\r\nResent-Bcc: y@b.example\r\n' +
        'Message-ID: <=?utf-8?q?x?=@a.example>\r\nContent-Type: text/plain\r\nX-Note: =?utf-8?q?caf=C3=A9?=\r\n',
    ),
  );

  it('drops Bcc, MIME structure and our own forged Authentication-Results, decoding only where RFC 2047 allows', () => {
    expect(manifestHeaders(fields, ['mx.b.example'])).toEqual([
      ['Authentication-Results', 'other.example; spf=pass'],
      ['From', 'Jörg <Jorg@Bücher.Example>'],
      ['Message-ID', '<=?utf-8?q?x?=@a.example>'],
      ['X-Note', 'café'],
    ]);
  });

  it('takes the first From mailbox with a lowercase A-label domain, or nothing usable', () => {
    expect(fromAddress(fields)).toBe('Jorg@xn--bcher-kva.example');
    expect(fromAddress(parseHeaderSection(Buffer.from('From: undisclosed:;\r\n')))).toBeUndefined();
    expect(fromAddress(parseHeaderSection(Buffer.from('From: "a b"@a.example\r\n')))).toBeUndefined();
    expect(fromAddress([])).toBeUndefined();
  });
});

describe('header encoding', () => {
  it('folds long values at whitespace and keeps names as written', () => {
    const out = encodeHeaders([['x-long', Array.from({ length: 30 }, (_, i) => `word${i}`).join(' ')]], false);
    expect(out.split('\r\n').every((l) => l.length <= 78)).toBe(true);
    expect(out.startsWith('x-long: word0 ')).toBe(true);
    expect(out.replace(/\r\n(?=[ \t])/g, '')).toBe(
      `x-long: ${Array.from({ length: 30 }, (_, i) => `word${i}`).join(' ')}\r\n`,
    );
  });

  it('refuses UTF-8 with no 7-bit form in a structured field', () => {
    expect(() => encodeHeaders([['Message-ID', '<grüße@a.example>']], false)).toThrow(
      expect.objectContaining({ code: 'smtputf8_required' }),
    );
    expect(encodeHeaders([['Message-ID', '<grüße@a.example>']], true)).toBe('Message-ID: <grüße@a.example>\r\n');
  });
});

describe('trace fields', () => {
  it('joins well-formed fields, folded ones included, and refuses anything else by position', () => {
    const folded = 'Authentication-Results: gw.b.example;\r\n\tspf=none;\r\n\tdkim=none\r\n';
    expect(traceBlock([folded, 'Received: by gw (mailbridge) id X; date\r\n']).toString()).toBe(
      `${folded}Received: by gw (mailbridge) id X; date\r\n`,
    );
    expect(() => traceBlock([folded, 'Received: no CRLF'])).toThrow(
      expect.objectContaining({ code: 'trace_invalid', message: expect.stringContaining('field 1') }),
    );
    expect(() => traceBlock(['X: a\r\n\r\n'])).toThrow(expect.objectContaining({ code: 'trace_invalid' }));
    expect(() => traceBlock(['X: a\0b\r\n'])).toThrow(expect.objectContaining({ code: 'trace_invalid' }));
  });
});
