// Fuzzes the SMTP ingress normaliser: MessageDataFilter (hygiene + limits) gives the same bytes or
// the same error whatever the chunking, never bare CR/LF; and over real sockets, random DATA full
// of bare CR/LF/dot tricks never ends early (no CRLF.CRLF smuggling): exactly one reply, one message.
import { buffer } from 'node:stream/consumers';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from '../inbound-smtp/harness.js';
import { RawSmtp } from '../inbound-smtp/raw-smtp.js';
import { bytesOf, corpus, cuts, RUNS, split } from './fuzz-support.js';
import { BARE, filterIngress as filter } from './oracles.js';

const tricks = fc.constantFrom(
  '\r\n',
  '\n',
  '\r',
  '.',
  '\r\n.\r\n',
  '\n.\n',
  '\r.\r',
  '\n.\r\n',
  '\r\n.\n',
  '..',
  'MAIL FROM:<x@evil.test>\r\n',
  'From: <ceo@native.test>',
  ': ',
  ' ',
  'x',
);
/** DATA payloads: a From line, then a mix of tricks and noise. */
const payload = fc
  .array(fc.oneof({ weight: 4, arbitrary: tricks }, { weight: 1, arbitrary: fc.string({ maxLength: 20 }) }), {
    maxLength: 40,
  })
  .map((parts) => `From: <a@elsewhere.test>\r\nSubject: fuzz\r\n\r\n${parts.join('')}`);

describe('fuzz: SMTP ingress normaliser', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ listeners: [{ role: 'mx' }, { role: 'mx', bare_newlines: 'normalise' }] });
  });
  afterAll(async () => {
    await h?.close();
  });

  for (const [name, bytes] of corpus('smtp-ingress')) {
    it(`corpus ${name}: filter is chunking-independent`, async () => {
      for (const policy of ['reject', 'normalise'] as const) {
        expect(
          await filter(
            [...bytes].map((b) => Buffer.of(b)),
            policy,
          ),
        ).toBe(await filter([bytes], policy));
      }
    });
    it(`corpus ${name}: one transaction over a socket`, async () => {
      for (const port of [h.port('mx', 0), h.port('mx', 1)]) await session(port, bytes.toString('latin1'));
    });
  }

  it('MessageDataFilter: same output or same error whatever the chunking', async () => {
    await fc.assert(
      fc.asyncProperty(
        bytesOf('\r\n.: xF', 400),
        cuts,
        fc.constantFrom('reject' as const, 'normalise' as const),
        async (bytes, c, policy) => {
          expect(await filter(split(bytes, c), policy)).toBe(await filter([bytes], policy));
        },
      ),
      { numRuns: RUNS * 5 },
    );
  });

  /** One DATA transaction, dot-stuffed as a CRLF-only client would, then NOOP and QUIT. */
  async function session(port: number, text: string): Promise<void> {
    const before = (await h.entries()).length;
    const c = await RawSmtp.connect(port);
    await c.envelope('a@elsewhere.test', ['user@native.test']);
    expect(await c.command('DATA')).toMatch(/^354/);
    c.write(`${text.replace(/(^|\r\n)\./g, '$1..')}\r\n.\r\nNOOP\r\nQUIT\r\n`);
    const replies: string[] = [];
    for (let r = await c.reply(); r !== ''; r = await c.reply()) replies.push(r);
    c.end();
    expect(replies.map((r) => r.slice(0, 3)).slice(1), replies.join(' | ')).toEqual(['250', '221']);
    expect(replies[0]).toMatch(/^(250 2\.0\.0 Ok: queued as |5\d\d )/);
    const added = (await h.entries()).length - before;
    expect(added).toBe(replies[0]!.startsWith('250') ? 1 : 0);
    const id = /queued as (\S+)/.exec(replies[0]!)?.[1];
    if (id) expect(BARE.test((await buffer((await h.spool.openBody(id)).stream)).toString('latin1'))).toBe(false);
  }

  it('real sockets, reject and normalise: never an early end of DATA, never a smuggled command', async () => {
    await fc.assert(
      fc.asyncProperty(payload, fc.boolean(), async (text, normalise) =>
        session(h.port('mx', normalise ? 1 : 0), text),
      ),
      { numRuns: Math.ceil(RUNS / 5) }, // a whole SMTP session with SPF/DMARC and an fsync'd spool per run
    );
  });
});
