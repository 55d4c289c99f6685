// Slowloris at scale against `mailbridge staging`: SLOWLORIS_SOCKETS (default 1,000, twice the
// listener's max_clients of 500) attacker slots from 67 loopback addresses each keep a socket
// trickling bytes (half mid-command, half in DATA), reconnecting 3 s after being cut, while a
// real client's 220 is timed: every sample within 1 s, and it still gets a message queued.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawSmtp } from '../inbound-smtp/raw-smtp.js';
import { type Staging, startStaging } from './staging.js';

const SOCKETS = Number(process.env.SLOWLORIS_SOCKETS ?? 1000);
/** per-IP cap is 20 by default; 15 per source address stays under it */
const PER_ADDRESS = 15;
/** staging's mx listener runs with the default max_clients */
const MAX_CLIENTS = 500;
/** slowloris tools refill dead sockets on their next round; theirs is 15 s, ours harsher */
const RECONNECT_MS = 3000;
/** longer than the default stress_timeout_s (10 s), so stress cuts happen during the samples */
const ATTACK_MS = 16_000;

/** What the attacker slots saw; cuts are counted by the last reply before the server closed them. */
interface AttackTally {
  greeted: number;
  /** open sessions that got their 220, now and at the peak */
  open: number;
  peakOpen: number;
  /** final replies: `421 4.4.5 …` evicted, `421 4.4.2 No progress …` cut under stress, etc. */
  cutBy: Map<string, number>;
}

describe('attacks: slowloris at scale', () => {
  let s: Staging;
  let stopped = false;
  const sockets = new Set<net.Socket>();

  beforeAll(async () => {
    s = await startStaging(['alpha.test']);
  });
  afterAll(async () => {
    stopped = true;
    for (const socket of sockets) socket.destroy();
    await s?.stop();
  });

  /**
   * One attacker slot: connect, then (inData) EHLO/MAIL/RCPT/DATA, then one byte every 400 ms;
   * when the server cuts it, note why and come back RECONNECT_MS later. Resolves on the first greeting.
   */
  function attackerSlot(port: number, index: number, inData: boolean, tally: AttackTally): Promise<void> {
    const localAddress = `127.0.${1 + Math.floor(index / PER_ADDRESS / 250)}.${1 + (Math.floor(index / PER_ADDRESS) % 250)}`;
    return new Promise((firstGreeting) => {
      const connect = (): void => {
        if (stopped) return;
        const socket = net.connect({ port, host: '127.0.0.1', localAddress });
        sockets.add(socket);
        let greeted = false;
        let last = '';
        let timer: NodeJS.Timeout | undefined;
        socket.setEncoding('latin1');
        socket.on('error', () => undefined);
        socket.on('data', (text: string) => {
          last = text.trim().split('\r\n').at(-1) ?? '';
          if (greeted || !text.startsWith('220 ')) return;
          greeted = true;
          tally.greeted++;
          tally.peakOpen = Math.max(tally.peakOpen, ++tally.open);
          if (inData) socket.write('EHLO slow.test\r\nMAIL FROM:<s@slow.test>\r\nRCPT TO:<bob@alpha.test>\r\nDATA\r\n');
          timer = setInterval(() => socket.writable && socket.write(inData ? 'x' : 'E'), 400);
        });
        socket.on('close', () => {
          clearInterval(timer);
          sockets.delete(socket);
          if (greeted) tally.open--;
          if (stopped) return;
          const reason = last.replace(/^(421 \S+ [^,:]+).*$/, '$1');
          tally.cutBy.set(reason, (tally.cutBy.get(reason) ?? 0) + 1);
          firstGreeting();
          setTimeout(connect, RECONNECT_MS);
        });
        socket.once('data', () => firstGreeting());
      };
      connect();
    });
  }

  it(`a real client gets its 220 within 1 s while ${SOCKETS} sockets trickle (max_clients ${MAX_CLIENTS})`, async () => {
    const started = performance.now();
    const port = s.port(s.domains['alpha.test']!.mx);
    const greet = async (): Promise<number> => {
      const begun = performance.now();
      const c = await RawSmtp.connect(port);
      const ms = performance.now() - begun;
      expect(c.greeting).toMatch(/^220 /);
      expect(await c.command('EHLO real.test')).toMatch(/^250/);
      c.end();
      return ms;
    };
    const baseline: number[] = [];
    for (let i = 0; i < 5; i++) baseline.push(await greet());

    const tally: AttackTally = { greeted: 0, open: 0, peakOpen: 0, cutBy: new Map() };
    const attackFrom = Date.now();
    await Promise.all(Array.from({ length: SOCKETS }, (_, i) => attackerSlot(port, i, i % 2 === 1, tally)));
    const samples: number[] = [];
    while (Date.now() - attackFrom < ATTACK_MS) {
      samples.push(await greet());
      await new Promise((r) => setTimeout(r, 200));
    }
    // and the real client can still hand over a message
    const real = await RawSmtp.connect(port);
    await real.envelope('someone@real.test', ['bob@alpha.test'], 'real.test');
    expect(await real.command('DATA')).toMatch(/^354/);
    expect(
      await real.command('From: <someone@real.test>\r\nSubject: during the attack\r\n\r\nstill here\r\n.'),
    ).toMatch(/^250 2\.0\.0 /);
    real.end();

    const sorted = [...samples].sort((a, b) => a - b);
    const cuts = [...tally.cutBy].map(([reason, n]) => `${n} × "${reason}"`).join(', ');
    console.log(
      `slowloris: ${SOCKETS} attacker slots, ${tally.greeted} greetings to them, peak ${tally.peakOpen} open, ${tally.open} open at the end; cut: ${cuts}\n` +
        `  real client, ${samples.length} greetings: baseline max ${Math.max(...baseline).toFixed(1)} ms; under attack p50 ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} ms, ` +
        `max ${sorted.at(-1)!.toFixed(1)} ms; test ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    expect(sorted.at(-1)!).toBeLessThan(1000);
    // the attack really filled the listener, and tricklers made room rather than the client waiting
    expect(tally.peakOpen).toBeGreaterThanOrEqual(MAX_CLIENTS * 0.9);
    expect(tally.cutBy.get('421 4.4.5 Server full')).toBeGreaterThan(0);
    expect(s.alive()).toBe(true);
  });
});
