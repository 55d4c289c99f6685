// Which DKIM key signs a message: the author domain's own, else its nearest parent's (relaxed
// alignment); never a key that does not align with every From: domain.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alignedSigner } from '../../src/mail/domain-signers.js';

const keys = new Map([
  ['one.example', 'key-one'],
  ['two.example', 'key-two'],
  ['lists.two.example', 'key-lists'],
]);

describe('alignedSigner', () => {
  it('takes the exact domain, else the nearest parent, case-insensitively', () => {
    expect(alignedSigner(keys, ['one.example'])).toBe('key-one');
    expect(alignedSigner(keys, ['News.Two.Example'])).toBe('key-two');
    expect(alignedSigner(keys, ['a.lists.two.example'])).toBe('key-lists');
  });

  it('signs nothing for a stranger, no author, an unusable author, or authors of two keys', () => {
    expect(alignedSigner(keys, ['three.example'])).toBeUndefined();
    expect(alignedSigner(keys, ['example'])).toBeUndefined();
    expect(alignedSigner(keys, [])).toBeUndefined();
    expect(alignedSigner(keys, [''])).toBeUndefined();
    expect(alignedSigner(keys, ['one.example', 'two.example'])).toBeUndefined();
    expect(alignedSigner(keys, ['one.example', 'three.example'])).toBeUndefined();
    expect(alignedSigner(keys, ['one.example', 'x.one.example'])).toBe('key-one');
  });

  it('only ever picks a key whose domain is the author domain or one of its parents', () => {
    const label = fc.stringMatching(/^[a-z0-9]{1,6}$/);
    const domain = fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join('.'));
    fc.assert(
      fc.property(fc.dictionary(domain, fc.string(), { maxKeys: 6 }), domain, (table, author) => {
        const signers = new Map(Object.entries(table).map(([d]) => [d, d]));
        const picked = alignedSigner(signers, [author]);
        if (picked !== undefined) expect(author === picked || author.endsWith(`.${picked}`)).toBe(true);
        if (signers.has(author) && author.includes('.')) expect(picked).toBe(author);
      }),
    );
  });
});
