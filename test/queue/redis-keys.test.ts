// Key naming for Redis Cluster: under a plain prefix the keys of one group hash alike (one slot),
// under a pinned {prefix} every key hashes alike and names stay what they always were.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { groupedKey, pinsOneSlot, queuePrefix } from '../../src/queue/redis-keys.js';

/** What Redis Cluster hashes: the text between the first `{` and the next `}` if not empty, else the key. */
function hashedPart(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  return close < 0 || close === open + 1 ? key : key.slice(open + 1, close);
}

const plainPrefix = fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/);
const text = fc.string({ minLength: 1, maxLength: 20 });

describe('Redis key naming', () => {
  it('keeps the names of a pinned prefix as they were', () => {
    expect(groupedKey('{mailbridge}', 'breaker:x.test', 'pmtp:breaker:x.test')).toBe(
      '{mailbridge}:pmtp:breaker:x.test',
    );
    expect(queuePrefix('{mailbridge}', 'inbound')).toBe('{mailbridge}');
    expect(pinsOneSlot('{mailbridge}')).toBe(true);
    expect(pinsOneSlot('mailbridge')).toBe(false);
  });

  it('gives a plain prefix one hash tag per group and per queue', () => {
    expect(groupedKey('mb', 'tokens', 'pmtp:token-revoked')).toBe('{mb:tokens}:pmtp:token-revoked');
    expect(queuePrefix('mb', 'notice')).toBe('{mb:notice}');
  });

  it('gives each fleet node queues of its own, in the same slot rules', () => {
    expect(queuePrefix('{mailbridge}', 'inbound', 'n1')).toBe('{mailbridge}:node:n1');
    expect(queuePrefix('mb', 'notice', 'n1')).toBe('{mb:node:n1:notice}');
    expect(queuePrefix('mb', 'notice', 'n1')).not.toBe(queuePrefix('mb', 'notice', 'n2'));
    expect(queuePrefix('{mailbridge}', 'inbound', 'n2')).not.toBe(queuePrefix('{mailbridge}', 'inbound'));
  });

  it('hashes every key of one group alike, whatever follows', () => {
    fc.assert(
      fc.property(plainPrefix, text, text, text, (prefix, group, one, two) => {
        expect(hashedPart(groupedKey(prefix, group, one))).toBe(hashedPart(groupedKey(prefix, group, two)));
      }),
    );
  });

  it('hashes different groups and queues differently under a plain prefix', () => {
    fc.assert(
      fc.property(
        plainPrefix,
        fc.uniqueArray(fc.stringMatching(/^[a-z:.]{1,15}$/), { minLength: 2, maxLength: 5 }),
        (prefix, groups) => {
          const tags = groups.map((g) => hashedPart(groupedKey(prefix, g, 'k')));
          expect(new Set(tags).size).toBe(groups.length);
          const queues = groups.map((g) => hashedPart(`${queuePrefix(prefix, g)}:${g}:wait`));
          expect(new Set(queues).size).toBe(groups.length);
        },
      ),
    );
  });

  it('hashes every key alike under a pinned prefix', () => {
    fc.assert(
      fc.property(text, text, text, (group, path, queue) => {
        const tag = hashedPart(groupedKey('{mb}', group, path));
        expect(tag).toBe('mb');
        expect(hashedPart(`${queuePrefix('{mb}', queue)}:${queue}:wait`)).toBe(tag);
      }),
    );
  });
});
