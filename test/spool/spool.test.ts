import { open, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isQueueId, newQueueId, queueIdTime } from '../../src/spool/queue-id.js';
import { BodyTooLargeError, Spool } from '../../src/spool/spool.js';
import { smtpRecord } from '../support/records.js';
import { tempDir } from '../support/tmp.js';

const meta = smtpRecord({
  createdAt: '2026-11-23T00:00:00.000Z',
  envelope: { mailFrom: 'a@x.test', rcptTo: ['b@y.test'] },
});

describe('Spool', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let spool: Spool;
  beforeEach(async () => {
    ({ dir, remove } = await tempDir('spool'));
    spool = new Spool(dir);
    await spool.init();
  });
  afterEach(() => remove());

  it('commits an entry whose body streams back byte for byte, 8-bit clean', async () => {
    const body = Buffer.concat([Buffer.from('Subject: t\r\n\r\n'), Buffer.from([0, 1, 0xff, 0x0d, 0x0a, 0x80])]);
    const draft = await spool.draft();
    await draft.writeBody(Readable.from([body.subarray(0, 5), body.subarray(5)]));
    const entry = await draft.commit(meta);
    expect(entry.size).toBe(body.length);
    const { stream, size } = await spool.openBody(entry.queueId);
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks)).toEqual(body);
    expect(size).toBe(body.length);
    expect((await spool.read(entry.queueId)).meta).toEqual({ ...meta, queueId: entry.queueId });
  });

  it('reads a meta longer than one tail read (a second read), beside a body that fills the rest', async () => {
    // 3,000 recipients make a meta of about 75 KiB: more than a first read of the entry's end fetches
    const many = smtpRecord({
      createdAt: '2026-11-23T00:00:00.000Z',
      envelope: { mailFrom: 'a@x.test', rcptTo: Array.from({ length: 3000 }, (_, i) => `recipient-${i}@y.test`) },
    });
    const body = Buffer.alloc(100_000, 'b');
    const draft = await spool.draft();
    await draft.writeBody(Readable.from([body]));
    const entry = await draft.commit(many);
    expect(Buffer.byteLength(JSON.stringify(entry.meta))).toBeGreaterThan(64 * 1024);
    const read = await spool.read(entry.queueId);
    expect(read.size).toBe(body.length);
    expect(read.meta).toEqual({ ...many, queueId: entry.queueId });
  });

  it('streams an empty body as an empty stream', async () => {
    const draft = await spool.draft();
    const entry = await draft.commit(meta);
    const { stream, size } = await spool.openBody(entry.queueId);
    expect(size).toBe(0);
    expect(await text(stream)).toBe('');
  });

  it('serves an inclusive byte range', async () => {
    const draft = await spool.draft();
    await draft.writeBody(Readable.from([Buffer.from('0123456789')]));
    const entry = await draft.commit(meta);
    const { stream } = await spool.openBody(entry.queueId, { start: 2, end: 5 });
    expect(await text(stream)).toBe('2345');
  });

  it('streams the body of an entry already read the same as by its queue id, a range too', async () => {
    const draft = await spool.draft();
    await draft.writeBody(Readable.from([Buffer.from('0123456789')]));
    const committed = await draft.commit(meta);
    const entry = await spool.read(committed.queueId);
    const whole = await spool.openBody(entry);
    expect([await text(whole.stream), whole.size]).toEqual(['0123456789', 10]);
    // the end is clipped to the body, never into the meta behind it
    expect(await text((await spool.openBody(entry, { start: 7, end: 40 })).stream)).toBe('789');
    expect(await text((await spool.openBody(entry.queueId, { start: 7, end: 40 })).stream)).toBe('789');
  });

  it('refuses to open the body of an entry removed since it was read', async () => {
    const draft = await spool.draft();
    await draft.writeBody(Readable.from([Buffer.from('gone')]));
    const entry = await draft.commit(meta);
    await spool.remove(entry.queueId);
    await expect(spool.openBody(entry)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(spool.openBody(entry.queueId)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('removes many entries with one shared folder fsync, made after the last of them', async () => {
    const entries = [];
    for (let i = 0; i < 10; i++) {
      const draft = await spool.draft();
      await draft.writeBody(Readable.from([Buffer.from(`entry ${i}`)]));
      entries.push(await draft.commit(meta));
    }
    const probe = await open(dir, 'r');
    const handles = Object.getPrototypeOf(probe) as { sync(): Promise<void> };
    await probe.close();
    const sync = vi.spyOn(handles, 'sync');
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    try {
      for (const entry of entries) await spool.remove(entry.queueId);
      expect(await spool.list()).toEqual([]);
      expect(sync).not.toHaveBeenCalled();
      vi.advanceTimersByTime(1000);
      await vi.waitFor(() => expect(sync).toHaveBeenCalledTimes(1));
    } finally {
      vi.useRealTimers();
      sync.mockRestore();
    }
  });

  it('lists nothing for a draft that was never committed, and recover() clears it', async () => {
    const draft = await spool.draft();
    await draft.writeBody(Readable.from([Buffer.from('half')]));
    expect(await spool.recover()).toEqual({ entries: [], unreadable: [] });
    expect(await readdir(spool.tmpDir)).toEqual([]);
  });

  it('stops at the size limit and leaves nothing listed', async () => {
    const draft = await spool.draft();
    await expect(draft.writeBody(Readable.from([Buffer.alloc(600), Buffer.alloc(600)]), 1000)).rejects.toBeInstanceOf(
      BodyTooLargeError,
    );
    await draft.discard();
    expect(await spool.recover()).toEqual({ entries: [], unreadable: [] });
  });

  it('removes an entry', async () => {
    const draft = await spool.draft();
    await draft.writeBody(Readable.from([Buffer.from('x')]));
    const entry = await draft.commit(meta);
    expect(await spool.has(entry.queueId)).toBe(true);
    await spool.remove(entry.queueId);
    expect(await spool.has(entry.queueId)).toBe(false);
    expect(await spool.recover()).toEqual({ entries: [], unreadable: [] });
  });

  it('recover() lists entries oldest first and ignores stray files', async () => {
    let t = 1_700_000_000_000;
    const timed = new Spool(dir, { now: () => (t += 1000) });
    const ids: string[] = [];
    for (const n of [1, 2, 3]) {
      const draft = await timed.draft();
      await draft.writeBody(Readable.from([Buffer.from(`m${n}`)]));
      ids.push((await draft.commit(meta)).queueId);
    }
    await writeFile(path.join(dir, 'entries', 'README'), 'not an entry');
    expect((await spool.recover()).entries.map((e) => e.queueId)).toEqual(ids);
  });

  it('refuses a record no writer of ours makes, and recover() reports it apart, leaving it in place', async () => {
    const good = await spool.draft();
    await good.writeBody(Readable.from([Buffer.from('good')]));
    const kept = await good.commit(meta);
    const bad = await spool.draft();
    await bad.writeBody(Readable.from([Buffer.from('bad')]));
    const odd = await bad.commit({
      kind: 'test',
      createdAt: meta.createdAt,
      envelope: meta.envelope,
      queue: 'inbound',
    } as never);
    await expect(spool.read(odd.queueId)).rejects.toThrow(/invalid record: kind/);
    const recovered = await spool.recover();
    expect(recovered.entries.map((e) => e.queueId)).toEqual([kept.queueId]);
    expect(recovered.unreadable).toEqual([{ queueId: odd.queueId, detail: expect.stringMatching(/invalid record/) }]);
    expect(await spool.has(odd.queueId)).toBe(true);
  });

  it('reads a record written before the `mailbox` rename: route kind `native` is a mailbox route', async () => {
    const draft = await spool.draft();
    await draft.writeBody(Readable.from([Buffer.from('old')]));
    const routes = [{ rcpt: 'b@y.test', kind: 'native', domain: 'y.test' }];
    const entry = await draft.commit({ ...meta, routes } as never);
    const read = await spool.read(entry.queueId);
    expect(read.meta.kind === 'smtp' && read.meta.routes).toEqual([
      { rcpt: 'b@y.test', kind: 'mailbox', domain: 'y.test' },
    ]);
  });

  it("recover() on a shared folder keeps other instances' live drafts and removes a dead one's after a day", async () => {
    const live = new Spool(dir, { instance: 'live' });
    const dead = new Spool(dir, { instance: 'dead' });
    const liveDraft = await live.draft();
    await liveDraft.writeBody(Readable.from([Buffer.from('in flight')]));
    const deadDraft = await dead.draft();
    await deadDraft.writeBody(Readable.from([Buffer.from('left by a crash')]));
    const dayAgo = new Date(Date.now() - 25 * 3600 * 1000);
    await utimes(deadDraft.bodyPath, dayAgo, dayAgo);
    await utimes(dead.tmpDir, dayAgo, dayAgo);

    await new Spool(dir, { instance: 'starting' }).recover();
    expect(await readdir(live.tmpDir)).toEqual([liveDraft.queueId]);
    expect((await readdir(path.join(dir, 'tmp'))).sort()).toEqual(
      ['live', 'starting', path.basename(spool.tmpDir)].sort(),
    );
    expect((await liveDraft.commit(meta)).queueId).toBe(liveDraft.queueId);
  });

  it('commits many drafts at once, each whole and listed (they share folder fsyncs)', async () => {
    const bodies = Array.from({ length: 40 }, (_, i) => Buffer.alloc(1000 + i, String.fromCharCode(65 + (i % 26))));
    const entries = await Promise.all(
      bodies.map(async (body) => {
        const draft = await spool.draft();
        await draft.writeBody(Readable.from([body.subarray(0, 500), body.subarray(500)]));
        return draft.commit(meta);
      }),
    );
    expect((await spool.list()).sort()).toEqual(entries.map((e) => e.queueId).sort());
    for (const [i, entry] of entries.entries()) {
      const { stream } = await spool.openBody(entry.queueId);
      expect(Buffer.from(await text(stream), 'latin1')).toEqual(bodies[i]);
    }
    expect(await readdir(spool.tmpDir)).toEqual([]);
  });

  it('recreates its temp folder when another instance swept it away', async () => {
    await rm(spool.tmpDir, { recursive: true });
    const draft = await spool.draft();
    await draft.writeBody(Readable.from([Buffer.from('after a quiet day')]));
    const entry = await draft.commit(meta);
    expect(entry.size).toBe(17);
    const bare = await spool.draft();
    await rm(spool.tmpDir, { recursive: true });
    expect((await bare.commit(meta)).size).toBe(0);
  });

  it('discard after the body removes the draft and its commit is refused', async () => {
    const draft = await spool.draft();
    await draft.writeBody(Readable.from([Buffer.from('never mind')]));
    await draft.discard();
    expect(await readdir(spool.tmpDir)).toEqual([]);
    await expect(draft.commit(meta)).rejects.toThrow(/already finished/);
    expect(await spool.list()).toEqual([]);
  });

  it('refuses an instance name that is not a plain folder name', () => {
    expect(() => new Spool(dir, { instance: '../entries' })).toThrow(/plain folder name/);
  });
});

describe('queue ids', () => {
  it('are valid, unique per random part and sort by time', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 47 }),
        fc.integer({ min: 1, max: 2 ** 20 }),
        fc.uint8Array({ minLength: 5, maxLength: 5 }),
        (t, dt, r) => {
          const a = newQueueId(t, Buffer.from(r));
          const b = newQueueId(t + dt, Buffer.from(r));
          expect(isQueueId(a)).toBe(true);
          expect(a < b).toBe(true);
          // the time reads back, which is what the oldest-message metric relies on
          expect(queueIdTime(a)).toBe(t);
        },
      ),
    );
  });
});
