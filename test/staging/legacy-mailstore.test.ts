// The staging legacy store keeps one copy per Message-ID and mailbox, even when the copies arrive
// at once or the first was already moved to cur/ by a mail client; mail without one is all kept.
import { readdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LegacyMailstore, startLegacyMailstore } from '../../src/staging/legacy-mailstore.js';
import { RawSmtp } from '../inbound-smtp/raw-smtp.js';
import { tempDir } from '../support/tmp.js';

async function send(port: number, to: string, header: string): Promise<string> {
  const c = await RawSmtp.connect(port);
  try {
    await c.envelope('a@alpha.test', [to]);
    expect(await c.command('DATA')).toMatch(/^354/);
    c.write(`${header}From: <a@alpha.test>\r\nSubject: copy\r\n\r\nbody\r\n.\r\n`);
    return await c.reply();
  } finally {
    c.end();
  }
}

const files = (dir: string, user: string, sub = 'new') =>
  readdir(path.join(dir, 'legacy.test', 'Maildir', user, sub)).catch(() => []);

describe('legacy mailstore dedupe by Message-ID', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let store: LegacyMailstore;
  beforeAll(async () => {
    ({ dir, remove } = await tempDir('legacy-store'));
    store = await startLegacyMailstore({ domain: 'legacy.test', root: dir, host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await store.close();
    await remove();
  });

  it('stores a repeated Message-ID once per mailbox and says 250 to every copy', async () => {
    const replies = await Promise.all(
      Array.from({ length: 4 }, () => send(store.port, 'dave@legacy.test', 'Message-ID: <same@alpha.test>\r\n')),
    );
    expect(replies.every((r) => r.startsWith('250'))).toBe(true);
    expect(await files(dir, 'dave')).toHaveLength(1);
    // another mailbox is another copy
    expect(await send(store.port, 'erin@legacy.test', 'Message-ID: <same@alpha.test>\r\n')).toMatch(/^250/);
    expect(await files(dir, 'erin')).toHaveLength(1);
    expect(store.counts()).toEqual({ stored: 2, duplicates: 3 });
  });

  it('still knows a copy a mail client moved to cur/', async () => {
    const [name] = await files(dir, 'dave');
    const box = path.join(dir, 'legacy.test', 'Maildir', 'dave');
    await rename(path.join(box, 'new', name!), path.join(box, 'cur', `${name}:2,S`));
    expect(await send(store.port, 'dave@legacy.test', 'Message-ID: <same@alpha.test>\r\n')).toMatch(/^250/);
    expect([...(await files(dir, 'dave')), ...(await files(dir, 'dave', 'cur'))]).toHaveLength(1);
  });

  it('keeps every copy of mail without a Message-ID', async () => {
    for (let i = 0; i < 2; i++) expect(await send(store.port, 'frank@legacy.test', '')).toMatch(/^250/);
    expect(await files(dir, 'frank')).toHaveLength(2);
  });
});
