// SessionProgress on a hand-driven clock: what counts as progress, when a session is stalled.
import { describe, expect, it } from 'vitest';
import { SessionProgress } from '../../src/inbound-smtp/session-progress.js';

describe('SessionProgress', () => {
  let now = 0;
  const progress = () => new SessionProgress(1000, () => now);

  it('a session is stalled since admission until a check it runs is accepted', async () => {
    now = 100;
    const p = progress();
    p.admit('a');
    now = 5000;
    expect(p.stalledSince('a')).toBe(100);
    let finish!: (ok: boolean) => void;
    const check = p.during('a', new Promise<boolean>((r) => (finish = r)), (ok) => ok);
    expect(p.stalledSince('a')).toBeUndefined(); // the client waits for us
    now = 6000;
    finish(false);
    await check;
    expect(p.stalledSince('a')).toBe(100); // refused: no progress
    await p.during('a', Promise.resolve(true), (ok) => ok);
    expect(p.stalledSince('a')).toBe(6000);
    await expect(p.during('a', Promise.reject(new Error('lookup failed')))).rejects.toThrow('lookup failed');
    expect(p.stalledSince('a')).toBe(6000);
  });

  it('DATA is judged by its rate after a second; a finished message is progress', () => {
    now = 0;
    const p = progress();
    p.admit('a');
    const stream = { byteLength: 0, readableEnded: false };
    now = 1000;
    p.dataStarted('a', stream);
    expect(p.inData('a')).toBe(true);
    now = 1500;
    expect(p.stalledSince('a')).toBeUndefined(); // too early to judge
    now = 3000;
    stream.byteLength = 2000; // exactly 1,000 bytes/s
    expect(p.stalledSince('a')).toBeUndefined();
    stream.byteLength = 1999;
    expect(p.stalledSince('a')).toBe(1000);
    stream.readableEnded = true; // the message is in: we owe the reply
    expect(p.stalledSince('a')).toBeUndefined();
    now = 4000;
    p.dataFinished('a');
    expect(p.inData('a')).toBe(false);
    expect(p.stalledSince('a')).toBe(4000);
  });

  it('forgets cut and closed sessions, and never judges unknown ones', () => {
    const p = progress();
    p.admit('a');
    p.forget('a');
    expect(p.stalledSince('a')).toBeUndefined();
    expect(p.stalledSince('never')).toBeUndefined();
  });

  it('with no minimum rate, DATA is never stalled', () => {
    now = 0;
    const p = new SessionProgress(0, () => now);
    p.admit('a');
    p.dataStarted('a', { byteLength: 0, readableEnded: false });
    now = 60_000;
    expect(p.stalledSince('a')).toBeUndefined();
  });
});
