// The RFC 1035 master-file reader: syntax (origins, TTLs, parentheses, quoting), errors that
// name their line, merging, and a round-trip property over randomly formatted zones.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mergeZones, parseZoneFile, ZoneFileError, type ZoneRecord } from '../../src/dns/zone-file.js';

const zone = `
$ORIGIN example.test.
$TTL 1h
@            IN  MX   10 mx1            ; relative exchange
@                MX   20 mx2.other.test.
mx1          300 IN A 192.0.2.10
mx1              AAAA 2001:DB8::10
www          IN 60 CNAME mx1
@ SOA ns1 hostmaster (
      2024010101 ; serial
      3600 900 604800 300 )
@                NS   ns1
@                TXT  "v=spf1 ip4:192.0.2.0/24 -all"
sel._domainkey   TXT  ( "v=DKIM1; k=rsa; "
                        "p=ABC" "DEF" )  ; one record, three strings
quote            TXT  "say \\"hi\\"; ok" semi\\059colon back\\\\slash
nomail.test.     MX   0 .
`;

function byType(records: ZoneRecord[], name: string, type: string): unknown[] {
  return records.filter((r) => r.name === name && r.type === type).map((r) => r.value);
}

describe('parseZoneFile', () => {
  const records = parseZoneFile(zone);

  it('resolves @, relative and absolute names against $ORIGIN', () => {
    expect(byType(records, 'example.test', 'MX')).toEqual([
      { priority: 10, exchange: 'mx1.example.test' },
      { priority: 20, exchange: 'mx2.other.test' },
    ]);
    expect(byType(records, 'mx1.example.test', 'A')).toEqual(['192.0.2.10']);
    expect(byType(records, 'mx1.example.test', 'AAAA')).toEqual(['2001:db8::10']);
    expect(byType(records, 'www.example.test', 'CNAME')).toEqual(['mx1.example.test']);
  });

  it('reads TTL and class in either order, and takes $TTL when the TTL is left out', () => {
    expect(records.find((r) => r.name === 'mx1.example.test' && r.type === 'A')?.ttl).toBe(300);
    expect(records.find((r) => r.name === 'www.example.test')?.ttl).toBe(60);
    expect(records.find((r) => r.type === 'MX')?.ttl).toBe(3600);
  });

  it('joins parentheses across lines, drops comments and ignores NS and SOA', () => {
    expect(byType(records, 'sel._domainkey.example.test', 'TXT')).toEqual([['v=DKIM1; k=rsa; ', 'p=ABC', 'DEF']]);
    expect(records.some((r) => (r.type as string) === 'SOA' || (r.type as string) === 'NS')).toBe(false);
  });

  it('decodes quoted strings and escapes, and keeps ";" inside quotes', () => {
    expect(byType(records, 'quote.example.test', 'TXT')).toEqual([['say "hi"; ok', 'semi;colon', 'back\\slash']]);
  });

  it('reads the null MX "0 ." with an empty exchange, as Node reports it', () => {
    expect(byType(records, 'nomail.test', 'MX')).toEqual([{ priority: 0, exchange: '' }]);
  });

  it('reuses the previous owner for a line that starts with blank space', () => {
    const r = parseZoneFile('a.test. A 192.0.2.1\n  TXT "x"\n', {});
    expect(r.map((x) => x.name)).toEqual(['a.test', 'a.test']);
  });

  it('takes the origin from options', () => {
    expect(parseZoneFile('host A 192.0.2.1', { origin: 'zone.test.' })[0]?.name).toBe('host.zone.test');
  });

  const errors: [string, string, number, RegExp][] = [
    ['unclosed quote', '$ORIGIN a.test.\n@ TXT "open\n', 2, /quoted string is not closed/],
    ['unknown type', '$ORIGIN a.test.\n\n@ WKS 1 2\n', 3, /record type "WKS" is not supported/],
    ['bad address', '$ORIGIN a.test.\n@ A 300.1.1.1\n', 2, /not an IPv4 address/],
    ['relative name without origin', 'host A 192.0.2.1\n', 1, /relative name "host" used before any \$ORIGIN/],
    ['unclosed parenthesis', '$ORIGIN a.test.\n@ TXT ( "x"\n', 2, /"\(" is never closed/],
    ['stray close', '$ORIGIN a.test.\n@ TXT "x" )\n', 2, /without a matching/],
    ['CNAME beside data', '$ORIGIN a.test.\nw A 192.0.2.1\nw CNAME x\n', 3, /has other records \(line 2\)/],
    ['long TXT string', `$ORIGIN a.test.\n@ TXT "${'x'.repeat(256)}"\n`, 2, /longer than 255 bytes/],
    ['other class', '$ORIGIN a.test.\n@ CH A 192.0.2.1\n', 2, /class CH is not supported/],
    ['$INCLUDE', '$INCLUDE /etc/passwd\n', 1, /\$INCLUDE is not supported/],
    ['MX arity', '$ORIGIN a.test.\n@ MX mx\n', 2, /MX needs 2 values, got 1/],
  ];
  for (const [label, text, line, message] of errors) {
    it(`names the line of an error: ${label}`, () => {
      const error = (() => {
        try {
          parseZoneFile(text, { file: 'z.zone' });
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(ZoneFileError);
      expect((error as ZoneFileError).line).toBe(line);
      expect((error as ZoneFileError).message).toMatch(new RegExp(`^z\\.zone:${line}: `));
      expect((error as ZoneFileError).message).toMatch(message);
    });
  }
});

describe('mergeZones', () => {
  const generated = parseZoneFile('$ORIGIN g.test.\n@ TXT "v=spf1 -all"\n@ A 192.0.2.1\nalias CNAME @\nk TXT "old"\n');
  const user = parseZoneFile('$ORIGIN g.test.\n@ TXT "v=spf1 a -all"\nalias A 192.0.2.9\nk CNAME @\n');

  it('lets a later zone replace a record set and keeps the rest', () => {
    const merged = mergeZones(generated, user);
    expect(byType(merged, 'g.test', 'TXT')).toEqual([['v=spf1 a -all']]);
    expect(byType(merged, 'g.test', 'A')).toEqual(['192.0.2.1']);
  });

  it('never leaves a CNAME beside other data at one name', () => {
    const merged = mergeZones(generated, user);
    expect(merged.filter((r) => r.name === 'alias.g.test').map((r) => r.type)).toEqual(['A']);
    expect(merged.filter((r) => r.name === 'k.g.test').map((r) => r.type)).toEqual(['CNAME']);
  });

  it('collapses duplicates', () => {
    expect(mergeZones(generated, generated)).toHaveLength(generated.length);
  });
});

// --- property: any set of records, written out in any legal layout, reads back the same
const label = fc.stringMatching(/^[a-z0-9_]([a-z0-9-]{0,10}[a-z0-9])?$/);
const relName = fc.array(label, { minLength: 1, maxLength: 3 }).map((l) => l.join('.'));
const txtString = fc.string({ maxLength: 40, unit: fc.constantFrom(...'ab ;"\\()x=1\t'.split('')) });
const recordArb = fc.oneof(
  fc.record({ name: relName, type: fc.constant('A' as const), value: fc.ipV4() }),
  fc.record({
    name: relName,
    type: fc.constant('MX' as const),
    value: fc.record({ priority: fc.nat(65535), exchange: relName }),
  }),
  fc.record({
    name: relName,
    type: fc.constant('TXT' as const),
    value: fc.array(txtString, { minLength: 1, maxLength: 3 }),
  }),
);
const layout = fc.record({
  absolute: fc.boolean(),
  ttl: fc.option(fc.nat(100000), { nil: undefined }),
  klass: fc.boolean(),
  parens: fc.boolean(),
  comment: fc.boolean(),
});

function quote(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

describe('parseZoneFile round trip (property)', () => {
  it('reads back every record whatever the layout', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(recordArb, layout), { minLength: 1, maxLength: 12 }), (items) => {
        const origin = 'zone.test';
        const lines = ['$ORIGIN zone.test.'];
        for (const [r, l] of items) {
          const owner = l.absolute ? `${r.name}.${origin}.` : r.name;
          const head = [owner, l.ttl ?? '', l.klass ? 'IN' : '', r.type].filter((x) => x !== '').join(' ');
          const data =
            r.type === 'A'
              ? r.value
              : r.type === 'MX'
                ? `${r.value.priority} ${r.value.exchange}`
                : r.value.map(quote).join(l.parens ? '\n  ' : ' ');
          const body = l.parens ? `( ${data} ; inside\n )` : data;
          lines.push(`${head} ${body}${l.comment ? ' ; note' : ''}`);
        }
        const parsed = parseZoneFile(lines.join('\n'));
        const expected = items.map(([r]) => ({
          name: `${r.name}.${origin}`,
          type: r.type,
          value: r.type === 'MX' ? { priority: r.value.priority, exchange: `${r.value.exchange}.${origin}` } : r.value,
        }));
        expect(parsed.map(({ name, type, value }) => ({ name, type, value }))).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});
