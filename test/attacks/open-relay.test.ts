// Open relay tricks beyond test/inbound-smtp/mx-envelope.test.ts: case, IDN/punycode, trailing
// dots, homoglyphs, NUL and spacing. A form may be refused (5xx) or accepted only if the message
// is routed to a local domain: after DATA, every route in the spooled meta must be native.test/corp.test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, message, startHarness } from '../inbound-smtp/harness.js';
import { RawSmtp } from '../inbound-smtp/raw-smtp.js';

const local = ['native.test', 'corp.test'];
const forms = [
  '<victim@EVIL.TEST.>',
  '<victim@native.test..>',
  '<victim@NATIVE.TEST.evil.test>',
  '<victim@evil.test.native.test>',
  '<victim@native.test.evil.test.>',
  '<victim@xn--native-test.evil.test>',
  '<victim@nätive.test>',
  '<victim@xn--ntive-gra.test>',
  '<victim@nаtive.test>', // Cyrillic a
  '<victim@native\u3002test>', // ideographic full stop
  '<victim@native\uff0etest>', // fullwidth full stop
  '<victim@native.test\u200b>',
  '<victim@NATIVE.TEST%evil.test>',
  '<VICTIM%EVIL.TEST@NATIVE.TEST>',
  '<"VICTIM@EVIL.TEST"@NATIVE.TEST>',
  '<EVIL.TEST!VICTIM@NATIVE.TEST>',
  '<@NATIVE.TEST:VICTIM@EVIL.TEST>',
  '<victim@[127.0.0.1].>',
  '<victim@evil.test> ',
  '<victim@evil.test >',
  '< victim@evil.test>',
  'victim@evil.test',
  '<victim@evil.test\0@native.test>',
  '<victim@native.test\0evil.test>',
  '<victim@native.test>,<victim@evil.test>',
  '<<victim@evil.test>>',
  '<victim@localhost>',
  '<victim@mx.gw.test>',
];

describe('attacks: open relay (case, IDN, trailing dots)', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({ listeners: [{ role: 'mx' }] });
  });
  afterAll(async () => {
    await h?.close();
  });

  for (const form of forms) {
    it(`RCPT TO:${JSON.stringify(form)} is refused or routed only to a local domain`, async () => {
      const c = await RawSmtp.connect(h.port('mx'));
      try {
        await c.envelope('someone@elsewhere.test', []);
        c.write(Buffer.from(`RCPT TO:${form}\r\n`, 'utf8'));
        const answer = await c.reply();
        if (!answer.startsWith('250')) {
          expect(answer).toMatch(/^5\d\d /);
          return;
        }
        expect(await c.command('DATA')).toMatch(/^354/);
        c.write(`${message('someone@elsewhere.test', 'victim@native.test')}.\r\n`);
        const queued = /queued as (\S+)/.exec(await c.reply())?.[1];
        expect(queued).toBeDefined();
        const routes = (await h.meta(queued!)).routes;
        expect(routes.length).toBeGreaterThan(0);
        for (const route of routes) expect(local).toContain(route.domain);
      } finally {
        c.end();
      }
    });
  }
});
