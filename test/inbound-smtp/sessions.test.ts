// Session-level defences and shutdown: per-IP connection cap (421 4.7.0), a trickling DATA
// sender cut off (421 4.4.2), and close(): idle sessions get 421, a session in DATA finishes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, message, startHarness } from './harness.js';
import { RawSmtp } from './raw-smtp.js';

describe('sessions', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await startHarness({
      listeners: [
        { role: 'mx', max_connections_per_ip: 2 },
        { role: 'mx', socket_timeout_s: 1, min_data_rate_bps: 2000 },
      ],
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('caps concurrent sessions per client IP with 421 4.7.0, and frees the slot on close', async () => {
    const port = h.port('mx', 0);
    // not 127.0.0.1: the harness lists it in relay_clients, which are exempt from the cap by default
    const first = await RawSmtp.connect(port, '127.0.0.2');
    const second = await RawSmtp.connect(port, '127.0.0.2');
    const third = await RawSmtp.connect(port, '127.0.0.2');
    expect([first.greeting, second.greeting].every((g) => g.startsWith('220'))).toBe(true);
    expect(third.greeting).toBe('421 4.7.0 Too many connections from your address');
    await third.closed();
    expect(third.isClosed).toBe(true);
    first.end();
    await new Promise((r) => setTimeout(r, 100));
    const fourth = await RawSmtp.connect(port, '127.0.0.2');
    expect(fourth.greeting).toMatch(/^220 /);
    second.end();
    fourth.end();
  });

  it('hangs up on a DATA sender below the minimum rate (slowloris) with 421 4.4.2 and keeps nothing', async () => {
    const before = await h.entries();
    const c = await RawSmtp.connect(h.port('mx', 1));
    await c.envelope('a@elsewhere.test', ['user@native.test']);
    expect(await c.command('DATA')).toMatch(/^354/);
    const started = Date.now();
    const trickle = setInterval(() => c.write('x'), 300); // never idle long enough for the 1 s timeout
    try {
      expect(await c.reply(8000)).toBe('421 4.4.2 Data rate too low, closing connection');
    } finally {
      clearInterval(trickle);
    }
    expect(Date.now() - started).toBeLessThan(4000);
    await c.closed();
    expect(c.isClosed).toBe(true);
    expect(await h.entries()).toEqual(before);
  });

  it('close(): idle sessions hear 421 4.3.2 at once; a session in DATA gets its 250 first', async () => {
    const own = await startHarness({ listeners: [{ role: 'mx' }] });
    const port = own.port('mx');
    const idle = await RawSmtp.connect(port);
    await idle.command('EHLO idle.test');
    const busy = await RawSmtp.connect(port);
    await busy.envelope('a@elsewhere.test', ['user@native.test']);
    expect(await busy.command('DATA')).toMatch(/^354/);
    const text = message('a@elsewhere.test', 'user@native.test');
    busy.write(text.slice(0, 40));

    let closed = false;
    const closing = own.smtp.close().then(() => (closed = true));
    expect(await idle.reply()).toBe('421 4.3.2 Service shutting down');
    await expect(RawSmtp.connect(port)).rejects.toThrow(/ECONNREFUSED/);
    expect(closed).toBe(false);

    busy.write(`${text.slice(40)}.\r\n`);
    expect(await busy.reply()).toMatch(/^250 2\.0\.0 Ok: queued as /);
    expect(await busy.reply()).toBe('421 4.3.2 Service shutting down');
    await closing;
    expect(await own.entries()).toHaveLength(1);
    await own.close();
  });
});
