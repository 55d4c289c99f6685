// zoneResolver answers like Node's resolver would: data, ENODATA, ENOTFOUND, CNAMEs followed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseZoneFile } from '../../src/dns/zone-file.js';
import { zoneResolver } from '../../src/dns/zone-resolver.js';

const resolver = zoneResolver(
  parseZoneFile(`
$ORIGIN mail.test.
@               MX  10 mx
@               TXT "v=spf1 " "-all"
mx              A   192.0.2.25
_dmarc          TXT "v=DMARC1; p=reject"
alias           CNAME mx
txt-alias       CNAME _dmarc
loop1           CNAME loop2
loop2           CNAME loop1
deep.sub        A   192.0.2.7
`),
);

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(
    () => undefined,
    (e: { code?: string }) => e.code,
  );
}

describe('zoneResolver', () => {
  it('answers TXT as arrays of strings, MX as records, A as addresses', async () => {
    expect(await resolver.resolveTxt('mail.test')).toEqual([['v=spf1 ', '-all']]);
    expect(await resolver.resolveMx('mail.test')).toEqual([{ priority: 10, exchange: 'mx.mail.test' }]);
    expect(await resolver.resolve4('mx.mail.test')).toEqual(['192.0.2.25']);
  });

  it('ignores case and a trailing dot in the question', async () => {
    expect(await resolver.resolve4('MX.Mail.Test.')).toEqual(['192.0.2.25']);
  });

  it('follows CNAMEs, and reports a loop as ESERVFAIL', async () => {
    expect(await resolver.resolve4('alias.mail.test')).toEqual(['192.0.2.25']);
    expect(await resolver.resolveTxt('txt-alias.mail.test')).toEqual([['v=DMARC1; p=reject']]);
    expect(await resolver.resolve('alias.mail.test', 'CNAME')).toEqual(['mx.mail.test']);
    expect(await codeOf(resolver.resolve4('loop1.mail.test'))).toBe('ESERVFAIL');
  });

  it('tells a missing name (ENOTFOUND) from a missing type (ENODATA), empty non-terminals included', async () => {
    expect(await codeOf(resolver.resolveTxt('nowhere.test'))).toBe('ENOTFOUND');
    expect(await codeOf(resolver.resolve6('mx.mail.test'))).toBe('ENODATA');
    expect(await codeOf(resolver.resolve4('sub.mail.test'))).toBe('ENODATA');
    expect(await codeOf(resolver.resolve('mail.test', 'NS'))).toBe('ENODATA');
    expect(await codeOf(resolver.resolve('none.mail.test', 'SOA'))).toBe('ENOTFOUND');
  });

  it('serves mailauth through resolve(name, rrtype)', async () => {
    expect(await resolver.resolve('_dmarc.mail.test', 'TXT')).toEqual([['v=DMARC1; p=reject']]);
    expect(await resolver.resolve('mail.test', 'MX')).toEqual([{ priority: 10, exchange: 'mx.mail.test' }]);
  });

  it('hands out copies, so a caller cannot change the zone', async () => {
    const first = await resolver.resolveTxt('mail.test');
    first[0]!.push('changed');
    expect(await resolver.resolveTxt('mail.test')).toEqual([['v=spf1 ', '-all']]);
  });

  it('answers exactly the A records given for each name (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.stringMatching(/^[a-z]{1,8}$/), fc.uniqueArray(fc.ipV4(), { minLength: 1, maxLength: 4 })),
        async (hosts) => {
          const text = [
            '$ORIGIN p.test.',
            ...Object.entries(hosts).flatMap(([h, ips]) => ips.map((ip) => `${h} A ${ip}`)),
          ].join('\n');
          const r = zoneResolver(parseZoneFile(text));
          for (const [h, ips] of Object.entries(hosts)) expect(await r.resolve4(`${h}.p.test`)).toEqual(ips);
          expect(await codeOf(r.resolve4('absent-host.p.test'))).toBe('ENOTFOUND');
        },
      ),
      { numRuns: 100 },
    );
  });
});
