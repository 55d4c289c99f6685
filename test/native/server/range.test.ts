// Range parsing for part pulls (RFC 9110 single byte ranges).
import { describe, expect, it } from 'vitest';
import { parseRange } from '../../../src/native/server/pull-routes.js';

describe('parseRange', () => {
  it('reads the three forms and refuses the rest', () => {
    expect(parseRange(undefined, 10)).toBeUndefined();
    expect(parseRange('bytes=2-4', 10)).toEqual([2, 4]);
    expect(parseRange('bytes=5-', 10)).toEqual([5, 9]);
    expect(parseRange('bytes=-3', 10)).toEqual([7, 9]);
    expect(parseRange('bytes=8-100', 10)).toEqual([8, 9]);
    for (const bad of ['bytes=10-', 'bytes=4-2', 'bytes=-', 'items=1-2', 'bytes=1-2,4-5'])
      expect(parseRange(bad, 10)).toBe('invalid');
  });
});
