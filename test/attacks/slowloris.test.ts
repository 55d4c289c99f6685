// Slowloris at scale against `mailbridge staging`: SLOWLORIS_SOCKETS (default 300, at most 480)
// sockets from 20 loopback addresses trickle bytes (half mid-command, half in DATA) while a real
// client's 220 is timed: every sample within 1 s. Past max_clients the attack wins (it.fails below).
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawSmtp } from '../inbound-smtp/raw-smtp.js';
import { startStaging, type Staging } from './staging.js';

const SOCKETS = Number(process.env.SLOWLORIS_SOCKETS ?? 300);
/** per-IP cap is 20 by default; 15 per source address stays under it */
const PER_ADDRESS = 15;

describe('attacks: slowloris at scale', () => {
  let s: Staging;
  const trickling: net.Socket[] = [];

  beforeAll(async () => {
    s = await startStaging(['alpha.test']);
  });
  afterAll(async () => {
    for (const socket of trickling) socket.destroy();
    await s?.stop();
  });

  /** One attacker socket: greeting, then (inData) EHLO/MAIL/RCPT/DATA, then one byte every 400 ms. */
  function attacker(port: number, index: number, inData: boolean): Promise<void> {
    const localAddress = `127.0.${1 + Math.floor(index / PER_ADDRESS / 250)}.${1 + (Math.floor(index / PER_ADDRESS) % 250)}`;
    return new Promise((resolve) => {
      const socket = net.connect({ port, host: '127.0.0.1', localAddress });
      trickling.push(socket);
      socket.on('error', () => resolve());
      socket.once('data', () => {
        if (inData) socket.write('EHLO slow.test\r\nMAIL FROM:<s@slow.test>\r\nRCPT TO:<bob@alpha.test>\r\nDATA\r\n');
        const timer = setInterval(() => (socket.writable ? socket.write(inData ? 'x' : 'E') : clearInterval(timer)), 400);
        socket.on('close', () => clearInterval(timer));
        resolve();
      });
    });
  }

  it(`a real client still gets its 220 within 1 s while ${SOCKETS} sockets trickle`, async () => {
    const port = s.port(s.domains['alpha.test']!.mx);
    const greet = async (): Promise<number> => {
      const started = performance.now();
      const c = await RawSmtp.connect(port);
      const ms = performance.now() - started;
      expect(c.greeting).toMatch(/^220 /);
      expect(await c.command('EHLO real.test')).toMatch(/^250/);
      c.end();
      return ms;
    };
    const baseline: number[] = [];
    for (let i = 0; i < 5; i++) baseline.push(await greet());
    await Promise.all(Array.from({ length: SOCKETS }, (_, i) => attacker(port, i, i % 2 === 1)));
    const open = () => trickling.filter((t) => !t.destroyed && t.readyState === 'open').length;
    const samples: number[] = [];
    const deadline = Date.now() + 6_000; // long enough for the DATA tricklers to meet the rate guard
    while (Date.now() < deadline) {
      samples.push(await greet());
      await new Promise((r) => setTimeout(r, 200));
    }
    const sorted = [...samples].sort((a, b) => a - b);
    console.log(
      `slowloris: ${SOCKETS} tricklers (${open()} still open at the end), ${samples.length} greetings: ` +
        `baseline max ${Math.max(...baseline).toFixed(1)} ms; under attack p50 ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms`,
    );
    expect(sorted.at(-1)!).toBeLessThan(1000);
    expect(s.alive()).toBe(true);
  });

  // Known gap: max_clients (default 500) is a global cap and a command-stage trickler is never cut
  // (each byte restarts the 300 s idle timer), so 500 tricklers from 34 addresses lock everyone out (421).
  it.fails('a real client still gets its 220 with more tricklers than max_clients (500)', async () => {
    const port = s.port(s.domains['alpha.test']!.mx);
    const open = trickling.filter((t) => !t.destroyed).length;
    await Promise.all(Array.from({ length: Math.max(0, 520 - open) }, (_, i) => attacker(port, SOCKETS + i, false)));
    const c = await RawSmtp.connect(port);
    c.end();
    expect(c.greeting).toMatch(/^220 /);
  });
});
