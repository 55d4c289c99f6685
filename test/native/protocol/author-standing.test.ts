// judgeAuthor: only an author the origin speaks for, or a trusted gateway's DMARC pass for the
// author's own domain, is aligned; every disagreement between notice, manifest and From: is vouched.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type AuthorFacts, judgeAuthor } from '../../../src/native/protocol/author-standing.js';
import { PROVENANCE } from '../../translate/support.js';

const base: AuthorFacts = {
  origin: 'a.example',
  noticeSender: 'alice@a.example',
  manifestFrom: 'alice@a.example',
  headerFrom: ['alice@a.example'],
  trustedGateways: new Set(),
};
const listMail: AuthorFacts = {
  ...base,
  noticeSender: 'ceo@c.example',
  manifestFrom: 'ceo@c.example',
  headerFrom: ['ceo@c.example'],
  provenance: { ...PROVENANCE, gateway: 'a.example', dmarc: { result: 'pass', domain: 'c.example' } },
};

describe('judgeAuthor', () => {
  it('aligns an author of the origin domain', () => {
    expect(judgeAuthor(base)).toEqual({ standing: 'aligned', provenanceTrusted: false });
  });

  it('aligns a third-party author only on a trusted gateway DMARC pass for that domain', () => {
    expect(judgeAuthor(listMail).standing).toBe('vouched');
    const trusted = { ...listMail, trustedGateways: new Set(['a.example']) };
    expect(judgeAuthor(trusted)).toEqual({ standing: 'aligned', provenanceTrusted: true });
    const fail = {
      ...trusted,
      provenance: { ...listMail.provenance!, dmarc: { result: 'fail' as const, domain: 'c.example' } },
    };
    expect(judgeAuthor(fail).standing).toBe('vouched');
    const otherDomain = {
      ...trusted,
      provenance: { ...listMail.provenance!, dmarc: { result: 'pass' as const, domain: 'a.example' } },
    };
    expect(judgeAuthor(otherDomain).standing).toBe('vouched');
    // a gateway that is trusted but is not the origin that served the message vouches for nothing
    const elsewhere = { ...trusted, provenance: { ...listMail.provenance!, gateway: 'gw.other.example' } };
    expect(judgeAuthor({ ...elsewhere, trustedGateways: new Set(['gw.other.example']) }).standing).toBe('vouched');
  });

  it.each([
    ['a notice naming another sender', { noticeSender: 'bob@a.example' }],
    ['a From: naming someone else', { headerFrom: ['alice@a.example', 'ceo@bank.example'] }],
    ['no From: address', { headerFrom: [] }],
    ['an unusable From:', { headerFrom: [''] }],
  ])('vouches only for %s', (_, change) => {
    expect(judgeAuthor({ ...base, ...change }).standing).toBe('vouched');
  });

  it('never aligns when a From: address differs from the manifest author (property)', () => {
    const local = fc.stringMatching(/^[a-z]{1,8}$/);
    const domain = fc.constantFrom('a.example', 'b.example', 'c.example');
    fc.assert(
      fc.property(local, domain, local, domain, fc.boolean(), (l1, d1, l2, d2, trust) => {
        fc.pre(`${l1}@${d1}` !== `${l2}@${d2}`);
        const facts: AuthorFacts = {
          ...listMail,
          noticeSender: `${l1}@${d1}`,
          manifestFrom: `${l1}@${d1}`,
          headerFrom: [`${l1}@${d1}`, `${l2}@${d2}`],
          trustedGateways: new Set(trust ? ['a.example'] : []),
        };
        expect(judgeAuthor(facts).standing).toBe('vouched');
      }),
    );
  });
});
