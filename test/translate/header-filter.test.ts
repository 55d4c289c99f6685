// withoutFields drops whole header fields (folded lines too) whatever the chunking, keeps every other
// byte, and never touches the body; strippedOnDelivery picks forged Authentication-Results and PMTP-Token.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { withoutFields } from '../../src/translate/header-filter.js';
import { strippedOnDelivery } from '../../src/translate/header-mapping.js';

async function filtered(input: Buffer, cuts: readonly number[], drop: (n: string, v: string) => boolean) {
  const points = [...new Set(cuts.map((c) => c % (input.length + 1)))].sort((a, b) => a - b);
  async function* chunks() {
    let at = 0;
    for (const p of [...points, input.length]) {
      if (p > at) yield input.subarray(at, p);
      at = p;
    }
  }
  const out: Buffer[] = [];
  for await (const c of withoutFields(chunks(), drop)) out.push(c);
  return Buffer.concat(out).toString('latin1');
}

const strip = strippedOnDelivery(['mx.gw.test']);

describe('withoutFields', () => {
  it('drops our forged Authentication-Results (folded, any case) and PMTP-Token, keeps the rest', async () => {
    const message = [
      'Received: from a by b',
      'Authentication-Results: MX.GW.test;',
      '\tdkim=pass header.d=bank.test',
      'Authentication-Results: other.test; spf=pass',
      'authentication-results: (forged) mx.gw.test; dmarc=pass',
      'PMTP-Token: abc.def',
      'From: <a@b.test>',
      '',
      'Authentication-Results: mx.gw.test; body text stays',
      '',
    ].join('\r\n');
    expect(await filtered(Buffer.from(message), [3, 40, 41, 90], strip)).toBe(
      [
        'Received: from a by b',
        'Authentication-Results: other.test; spf=pass',
        'From: <a@b.test>',
        '',
        'Authentication-Results: mx.gw.test; body text stays',
        '',
      ].join('\r\n'),
    );
  });

  it('handles a message that ends inside its header, with or without a final newline', async () => {
    expect(await filtered(Buffer.from('A: 1\r\nPMTP-Token: x'), [], strip)).toBe('A: 1\r\n');
    expect(await filtered(Buffer.from('PMTP-Token: x\r\n y\r\nB: 2'), [5], strip)).toBe('B: 2');
    expect(await filtered(Buffer.from('From a mbox line\nPMTP-Token: x\n\nbody'), [2], strip)).toBe(
      'From a mbox line\n\nbody',
    );
  });

  it('keeps every byte when nothing is dropped, and drops exactly the chosen fields, whatever the chunking', async () => {
    const name = fc.constantFrom('Subject', 'X-A', 'PMTP-Token', 'Authentication-Results', 'To');
    const value = fc.constantFrom('mx.gw.test; dkim=pass', 'hello', 'x.test; none', '', 'a\r\n b', 'c\r\n\td');
    const field = fc.tuple(name, value).map(([n, v]) => `${n}: ${v}\r\n`);
    const body = fc.constantFrom('', 'PMTP-Token: body\r\n', 'line\r\n\r\nmore');
    await fc.assert(
      fc.asyncProperty(fc.array(field, { maxLength: 8 }), body, fc.array(fc.nat(400)), async (fields, text, cuts) => {
        const input = Buffer.from(`${fields.join('')}\r\n${text}`);
        expect(await filtered(input, cuts, () => false)).toBe(input.toString('latin1'));
        const kept = fields.filter((f) => {
          const colon = f.indexOf(':');
          return !strip(
            f.slice(0, colon),
            f
              .slice(colon + 1)
              .replace(/\r\n/g, '')
              .trim(),
          );
        });
        expect(await filtered(input, cuts, strip)).toBe(`${kept.join('')}\r\n${text}`);
      }),
      { numRuns: 300 },
    );
  });
});
