// A full listener (max_clients) keeps slots from stalled sessions: a new client evicts the
// longest-stalled one (421 4.4.5), DATA at the minimum rate is never the victim, under stress a
// session stalled for stress_timeout_s is cut (421 4.4.2), and without stress a slow client is left alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, message, startHarness } from './harness.js';
import { RawSmtp } from './raw-smtp.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('overload: sessions that stall give up their slots', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      listeners: [
        { role: 'mx', max_clients: 3 },
        { role: 'mx', max_clients: 3 },
        { role: 'mx', max_clients: 3, stress_timeout_s: 2 },
      ],
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  /** Writes one byte every 300 ms, never finishing a command, until the server hangs up. */
  function trickle(c: RawSmtp): NodeJS.Timeout {
    const timer = setInterval(() => (c.isClosed ? clearInterval(timer) : c.write('N')), 300);
    return timer;
  }

  it('at max_clients, a new client evicts the longest-stalled session, not one that made progress', async () => {
    const port = h.port('mx', 0);
    const busy = await RawSmtp.connect(port, '127.0.2.1');
    const stalled = await RawSmtp.connect(port, '127.0.2.2');
    const timer = trickle(stalled);
    const later = await RawSmtp.connect(port, '127.0.2.3');
    // connected first, but its accepted MAIL and RCPT are progress newer than the others' greetings
    await busy.envelope('a@elsewhere.test', ['user@native.test']);

    const arriving = await RawSmtp.connect(port, '127.0.2.4');
    expect(arriving.greeting).toMatch(/^220 /);
    expect(await stalled.reply()).toBe('421 4.4.5 Server full, closing the most stalled session');
    await stalled.closed();
    expect(stalled.isClosed).toBe(true);
    clearInterval(timer);
    expect(await busy.command('NOOP')).toMatch(/^250/);
    expect(await later.command('NOOP')).toMatch(/^250/);

    // the next arrival takes the slot of `later`, the longest stalled now
    const next = await RawSmtp.connect(port, '127.0.2.5');
    expect(next.greeting).toMatch(/^220 /);
    expect(await later.reply()).toBe('421 4.4.5 Server full, closing the most stalled session');
    // an address just cut for stalling cannot make room by coming back: it is refused as before
    const back = await RawSmtp.connect(port, '127.0.2.2');
    expect(back.greeting).toMatch(/^421 .*Too many connected clients/);
    for (const c of [busy, arriving, next, back]) c.end();
  });

  it('DATA at the minimum rate is never evicted; once below it, it is', async () => {
    const port = h.port('mx', 1);
    const senders = await Promise.all(['127.0.3.1', '127.0.3.2', '127.0.3.3'].map((ip) => RawSmtp.connect(port, ip)));
    for (const c of senders) {
      await c.envelope('a@elsewhere.test', ['user@native.test']);
      expect(await c.command('DATA')).toMatch(/^354/);
      c.write('From: <a@elsewhere.test>\r\nSubject: long\r\n\r\n');
    }
    // 2,000 bytes/s each, twice the default min_data_rate_bps
    const line = `${'x'.repeat(198)}\r\n`;
    const flowing = setInterval(() => {
      for (const c of senders) c.write(line);
    }, 100);
    try {
      await sleep(1500);
      const refused = await RawSmtp.connect(port, '127.0.3.4');
      expect(refused.greeting).toMatch(/^421 .*Too many connected clients/);
      refused.end();
    } finally {
      clearInterval(flowing);
    }
    // the senders go quiet: about 3,000 bytes in 4 s is below 1,024 bytes/s
    await sleep(2500);
    const arriving = await RawSmtp.connect(port, '127.0.3.5');
    expect(arriving.greeting).toMatch(/^220 /);
    const heard = await Promise.all(senders.map((c) => c.reply(200).catch(() => 'still open')));
    expect(heard.filter((r) => r === '421 4.4.5 Server full, closing the most stalled session')).toHaveLength(1);
    for (const c of [...senders, arriving]) c.end();
  });

  it('without stress a slow client and a trickler are left alone; under stress a stalled session is cut', async () => {
    const port = h.port('mx', 2);
    const before = await h.entries();
    // two sessions on a max_clients 3 listener: not full, so no stress
    const trickler = await RawSmtp.connect(port, '127.0.4.1');
    const timer = trickle(trickler);
    const slow = await RawSmtp.connect(port, '127.0.4.2');
    // one command every 1.5 s: its first progress (MAIL) comes 3 s in, past stress_timeout_s (2 s)
    for (const line of ['EHLO slow.test', 'MAIL FROM:<a@elsewhere.test>', 'RCPT TO:<user@native.test>']) {
      await sleep(1500);
      expect(await slow.command(line)).toMatch(/^250/);
    }
    await sleep(1500);
    expect(await slow.command('DATA')).toMatch(/^354/);
    expect(await slow.command(`${message('a@elsewhere.test', 'user@native.test')}.`)).toMatch(
      /^250 2\.0\.0 Ok: queued as /,
    );
    expect(await h.entries()).toHaveLength(before.length + 1);
    expect(trickler.isClosed).toBe(false);

    // the third session fills the listener: stress; the trickler (stalled 6 s) goes within a second or two
    const third = await RawSmtp.connect(port, '127.0.4.3');
    const cutAfter = Date.now();
    expect(await trickler.reply(4000)).toBe('421 4.4.2 No progress while the server is busy, closing connection');
    expect(Date.now() - cutAfter).toBeLessThan(2500);
    clearInterval(timer);
    // the slow client finished a message a moment ago and the third just arrived: both stay
    expect(await slow.command('NOOP')).toMatch(/^250/);
    expect(await third.command('NOOP')).toMatch(/^250/);
    for (const c of [slow, third]) c.end();
  });
});
