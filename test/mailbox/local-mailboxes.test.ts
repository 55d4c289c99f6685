// A retried delivery (a job taken over after a crash) writes no second Maildir copy: the Redis
// ledger says `done`, or an unfinished attempt's file is found in new/ or, already read, in cur/.
import { readdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DeliveryLedger } from '../../src/mailbox/delivery-ledger.js';
import { LocalMailboxes } from '../../src/mailbox/local-mailboxes.js';
import { deleteKeys, redisUrl, testPrefix } from '../support/redis.js';
import { tempDir } from '../support/tmp.js';

const open = async () => Readable.from([Buffer.from('Subject: once\r\n\r\nbody\r\n')]);

describe('LocalMailboxes delivers each message to a mailbox once', () => {
  const prefix = testPrefix();
  let redis: Redis;
  let dir: string;
  let remove: () => Promise<void>;
  let mailboxes: LocalMailboxes;
  let ledger: DeliveryLedger;
  const box = (sub: string) => path.join(dir, 'native.test', 'Maildir', 'bob', sub);

  beforeAll(() => {
    redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  });
  afterAll(async () => {
    redis.disconnect();
    await deleteKeys(prefix);
  });
  beforeEach(async () => {
    ({ dir, remove } = await tempDir('maildir-once'));
    ledger = new DeliveryLedger(redis, prefix);
    mailboxes = new LocalMailboxes(
      { hostname: 'mx.native.test', mailbox: { maildir_root: dir }, domains: { mailbox: ['native.test'] } } as never,
      { ledger },
    );
  });
  afterEach(() => remove());

  it('skips a delivery the ledger records as done', async () => {
    const id = `Q${Date.now()}`;
    const [first] = await mailboxes.deliver(['bob@native.test'], '', open, id);
    const [again] = await mailboxes.deliver(['BOB@native.test'], '', open, id);
    expect([first?.delivered, first?.duplicate, again?.delivered, again?.duplicate]).toEqual([true, false, true, true]);
    expect(await readdir(box('new'))).toHaveLength(1);
    expect((await mailboxes.deliver(['bob@native.test'], '', open, `${id}-other`))[0]?.duplicate).toBe(false);
    expect(await readdir(box('new'))).toHaveLength(2);
  });

  it('finds the file of an attempt that died before recording done, even after a client moved it to cur/', async () => {
    const id = `Q${Date.now()}-crashed`;
    const [{ file } = {}] = await mailboxes.deliver(['bob@native.test'], '', open, id);
    // the attempt died after link() but before `done`; a mail client has since read the message
    for (const key of await redis.keys(`${prefix}:delivered:*`)) await redis.set(key, 'pending');
    await rename(file!, path.join(box('cur'), `${path.basename(file!)}:2,S`));
    const [again] = await mailboxes.deliver(['bob@native.test'], '', open, id);
    expect(again).toMatchObject({ delivered: true, duplicate: true });
    expect(await readdir(box('new'))).toEqual([]);
    expect(await readdir(box('cur'))).toHaveLength(1);
  });
});
