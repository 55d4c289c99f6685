// `mailbridge queue` end to end through its Command against a real Redis: postqueue-like text,
// one JSON object per line, and the exit codes scripts test for.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { queueCommand } from '../../src/cli/queue.js';
import { redisUrl } from '../support/redis.js';
import { queueFixture } from './queue-fixture.js';

function sink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write: (chunk: Buffer, _enc, done) => {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

describe('mailbridge queue', () => {
  let f: Awaited<ReturnType<typeof queueFixture>>;
  let file: string;
  const run = async (...argv: string[]) => {
    const out = sink();
    const err = sink();
    const code = await queueCommand.run([...argv, '-c', file], { env: {}, stdout: out.stream, stderr: err.stream });
    return { code, stdout: out.text(), stderr: err.text() };
  };

  beforeAll(async () => {
    f = await queueFixture('queue-cli');
    file = path.join(f.dir, 'mailbridge.yaml');
    await writeFile(file, stringify({ redis: { url: redisUrl, prefix: f.prefix }, spool: { dir: f.dir } }));
  });
  afterAll(() => f.close());

  it('says the queue is empty, then lists like postqueue -p', async () => {
    expect((await run('list')).stdout).toBe('Mail queue is empty\n');
    const id = await f.accept('inbound', ['bob@legacy.test', 'carol@legacy.test']);
    await f.status.record(
      id,
      { recipient: 'bob@legacy.test', state: 'deferred', reply: '451 4.4.1 refused', code: 'connection_failed' },
      new Date(),
    );
    const { code, stdout } = await run('list');
    expect(code).toBe(0);
    const lines = stdout.split('\n');
    expect(lines[0]).toMatch(/^-Queue ID- +--Size-- ----Arrival Time---- -Sender\/Recipient-------$/);
    expect(lines[1]).toMatch(
      new RegExp(`^${id}  +\\d+ \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ alice@alpha\\.test$`),
    );
    expect(lines[2]).toMatch(/^ +\[inbound: waiting, 0 attempts made\]$/);
    expect(lines.slice(3, 6).map((l) => l.trim())).toEqual([
      '(451 4.4.1 refused)',
      'bob@legacy.test deferred',
      'carol@legacy.test queued',
    ]);
    expect(stdout).toMatch(/-- 1 Kbytes in 1 Request\.\n$/);
  });

  it('prints one JSON object per line with --json, and show prints meta and headers', async () => {
    const { stdout } = await run('list', '--json');
    const records = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records[0]).toMatchObject({
      queue_name: 'inbound',
      state: 'waiting',
      sender: 'alice@alpha.test',
      spooled: true,
    });
    expect(records[0]!.recipients).toContainEqual({
      address: 'bob@legacy.test',
      state: 'deferred',
      attempts: 1,
      delay_reason: '451 4.4.1 refused',
    });
    const id = records[0]!.queue_id as string;
    const shown = await run('show', id);
    expect(shown.stdout).toContain(`queue id:    ${id}\n`);
    expect(shown.stdout).toContain('headers:\n  From: alice@alpha.test\n');
    expect(JSON.parse((await run('show', id, '--json')).stdout)).toMatchObject({
      queue_id: id,
      header_lines: ['From: alice@alpha.test', 'To: bob@legacy.test', 'Subject: queued'],
    });
  });

  it('retries, flushes and deletes, with sysexits codes for usage and unknown ids', async () => {
    const id = await f.accept('outbound');
    expect(await run('retry', id)).toMatchObject({ code: 0, stdout: `${id}: outbound waiting -> unchanged\n` });
    expect((await run('flush')).stdout).toContain('outbound: 0 delayed job(s) run now\n');
    expect(await run('delete', id)).toMatchObject({
      code: 0,
      stdout: `${id}: deleted (spool entry, jobs: outbound, 1 recipient(s) marked deleted)\n`,
    });
    expect(await run('show', id)).toMatchObject({ code: 65, stderr: `mailbridge queue: ${id}: no such message\n` });
    expect((await run('delete', 'nonsense')).code).toBe(64);
    expect((await run('retry')).code).toBe(64);
    expect((await run('frobnicate')).code).toBe(64);
  });
});

describe('mailbridge queue: filters and bulk actions', () => {
  let f: Awaited<ReturnType<typeof queueFixture>>;
  let file: string;
  const run = async (...argv: string[]) => {
    const out = sink();
    const err = sink();
    const code = await queueCommand.run([...argv, '-c', file], { env: {}, stdout: out.stream, stderr: err.stream });
    return { code, stdout: out.text(), stderr: err.text() };
  };
  const listed = async (...filter: string[]) =>
    (await run('list', '--json', ...filter)).stdout
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => (JSON.parse(l) as { queue_id: string }).queue_id)
      .sort();

  beforeAll(async () => {
    f = await queueFixture('queue-bulk');
    file = path.join(f.dir, 'mailbridge.yaml');
    await writeFile(file, stringify({ redis: { url: redisUrl, prefix: f.prefix }, spool: { dir: f.dir } }));
  });
  afterAll(() => f.close());

  it('selects by domain, sender, state and age; bulk delete takes only the selection', async () => {
    const fromAlice = await f.accept('inbound', ['bob@legacy.test']);
    const fromShop = await f.accept('outbound', ['carol@Other.test'], 'news@shop.test');
    const bounce = await f.accept('outbound', ['dave@legacy.test'], '');
    await (await f.queues.queue('outbound').getJob(bounce))!.remove();
    await f.queues.add('outbound', { queueId: bounce }, { delayMs: 600_000 });

    expect(await listed('--domain', 'other.test')).toEqual([fromShop]);
    expect(await listed('--domain', 'LEGACY.test')).toEqual([fromAlice, bounce].sort());
    expect(await listed('--sender', 'news@shop.test')).toEqual([fromShop]);
    expect(await listed('--sender', '<>')).toEqual([bounce]);
    expect(await listed('--state', 'delayed')).toEqual([bounce]);
    expect(await listed('--older-than', '1h')).toEqual([]);
    expect(await listed('--newer-than', '1h')).toEqual([fromAlice, fromShop, bounce].sort());

    // a bulk action without an id needs a filter or --all; an id and a filter together are a mistake
    expect((await run('delete')).code).toBe(64);
    expect((await run('delete', fromAlice, '--domain', 'legacy.test')).code).toBe(64);
    expect((await run('list', '--all')).code).toBe(64);

    const deleted = await run('delete', '--domain', 'legacy.test', '--state', 'delayed');
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toBe(`${bounce}: deleted\n1 message(s) selected\n`);
    expect(await listed()).toEqual([fromAlice, fromShop].sort());

    const retried = await run('retry', '--all');
    expect(retried.code).toBe(0);
    expect(retried.stdout).toContain('2 message(s) selected');
    expect((await run('delete', '--all')).stdout).toContain('2 message(s) selected');
    expect(await listed()).toEqual([]);
    expect(await f.spool.list()).toEqual([]);
  });
});
