// A full disk (issue 7): the spool and the Maildirs live on a small tmpfs that a filler file
// nearly fills. Mail keeps coming until the disk is full: every refusal must be 452 4.3.1 or 451,
// never a 250 for a message that was not stored; once space returns, every 250 is delivered.
// Needs root (mount); where mount is refused the test is skipped and says why.
import { execFile } from 'node:child_process';
import { mkdir, open, readdir, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { RawSmtp } from '../inbound-smtp/raw-smtp.js';
import { type GatewayProcess, kill9, startGatewayProcess } from '../support/gateway-process.js';
import { deleteKeys, redisUrl, testPrefix } from '../support/redis.js';
import { tempDir } from '../support/tmp.js';

const run = promisify(execFile);
const { dir, remove } = await tempDir('disk-full');
const disk = path.join(dir, 'disk');
await mkdir(disk);
// the mount is tried while tests are collected, so the skip below reflects what happened here
const mountError = await run('mount', ['-t', 'tmpfs', '-o', 'size=3m,mode=0700', 'tmpfs', disk]).then(
  () => undefined,
  (err: { stderr?: string; message: string }) => (err.stderr || err.message).trim(),
);
if (mountError) console.warn(`disk-full test skipped: cannot mount a tmpfs (${mountError})`);

/** Message-ID of every delivered file. */
async function delivered(box: string): Promise<string[]> {
  const files = await readdir(box).catch(() => []);
  return Promise.all(
    files.map(async (f) => /^Message-ID: (\S+)\r?$/im.exec(await readFile(path.join(box, f), 'latin1'))?.[1] ?? f),
  );
}

describe('a full spool disk', () => {
  const prefix = testPrefix();
  let gateway: GatewayProcess | undefined;

  afterAll(async () => {
    if (gateway) await kill9(gateway.child);
    if (!mountError) await run('umount', [disk]);
    await deleteKeys(prefix);
    await remove();
  });

  it.skipIf(mountError !== undefined)(
    `answers 452 4.3.1 or 451 when full, never 250 for mail it could not store, and delivers every 250 once space returns${mountError ? ` (skipped: ${mountError})` : ''}`,
    async () => {
      await writeFile(path.join(dir, 'zone.txt'), '$ORIGIN elsewhere.test.\n@ TXT "v=spf1 ip4:127.0.0.1 -all"\n');
      const configFile = path.join(dir, 'mailbridge.yaml');
      const config = {
        hostname: 'mx.native.test',
        log: { level: 'warn' },
        redis: { url: redisUrl, prefix },
        // one byte: MAIL FROM passes until the disk is completely full, so ENOSPC strikes during DATA
        spool: { dir: path.join(disk, 'spool'), min_free_bytes: 1 },
        dns: { zone_file: 'zone.txt' },
        metrics: { port: 0 },
        domains: { mailbox: ['native.test'] },
        mailbox: { maildir_root: path.join(disk, 'mail') },
        // deliveries to the full disk are deferred: retry soon, but not so often they race the checks
        queues: { retry: { initial_delay_s: 3, max_delay_s: 3 } },
        smtp: { listeners: [{ role: 'mx', host: '127.0.0.1', port: 0 }] },
      };
      await writeFile(configFile, stringify(config));
      gateway = await startGatewayProcess(configFile);

      // leave room for a handful of messages, then send until the disk says no a few times in a row
      const filler = path.join(disk, 'filler');
      const free = async () => {
        const s = await statfs(disk);
        return s.bavail * s.bsize;
      };
      const handle = await open(filler, 'w');
      await handle.write(Buffer.alloc((await free()) - 160 * 1024));
      await handle.close();

      const accepted: string[] = [];
      const refusals: string[] = [];
      const c = await RawSmtp.connect(gateway.port);
      expect(await c.command('EHLO client.test')).toMatch(/^250/);
      let n = 0;
      /** One message of about `kb` KiB; a refusal is kept as "STAGE reply". */
      const send = async (kb: number): Promise<boolean> => {
        const messageId = `<full-${n}@elsewhere.test>`;
        const mail = await c.command('MAIL FROM:<a@elsewhere.test>');
        if (!mail.startsWith('250')) {
          refusals.push(`MAIL ${mail}`);
          return false;
        }
        expect(await c.command('RCPT TO:<user@native.test>')).toMatch(/^250/);
        expect(await c.command('DATA')).toMatch(/^354/);
        c.write(
          `From: <a@elsewhere.test>\r\nTo: <user@native.test>\r\nSubject: full ${n++}\r\nMessage-ID: ${messageId}\r\n\r\n${`${'y'.repeat(1022)}\r\n`.repeat(kb)}.\r\n`,
        );
        const reply = await c.reply();
        if (reply.startsWith('250 ')) accepted.push(messageId);
        else refusals.push(`DATA ${reply}`);
        return reply.startsWith('250 ');
      };
      // the flood: 16 KiB messages until the disk has said no five times in a row
      for (let inARow = 0; n < 100 && inARow < 5; ) inARow = (await send(16)) ? 0 : inARow + 1;
      const flooded = accepted.length;
      // and a message bigger than what is left: MAIL FROM still passes, the spool write hits ENOSPC
      await rm(filler);
      const handle2 = await open(filler, 'w');
      await handle2.write(Buffer.alloc((await free()) - 48 * 1024));
      await handle2.close();
      expect(await send(256)).toBe(false);
      c.end();
      console.log(
        `disk full: ${flooded} accepted, then refused with ${[...new Set(refusals.map((r) => r.slice(0, 14)))].join(', ')}`,
      );
      expect(flooded).toBeGreaterThan(0);
      expect(refusals.length).toBeGreaterThanOrEqual(6);
      // during DATA the spool write itself hits ENOSPC: 452 4.3.1 (RFC 3463 "mail system full"), as at MAIL
      expect(refusals.at(-1)).toMatch(/^DATA 452 4\.3\.1 /);
      for (const r of refusals) expect(r).toMatch(/^(MAIL|DATA) (452 4\.3\.1|451 4\.3\.0) /);

      await rm(filler);
      const box = path.join(disk, 'mail', 'native.test', 'Maildir', 'user', 'new');
      const deadline = Date.now() + 20_000;
      let ids: string[] = [];
      while (Date.now() < deadline) {
        ids = await delivered(box);
        if (accepted.every((id) => ids.includes(id))) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(accepted.filter((id) => !ids.includes(id))).toEqual([]);
      // nothing refused slipped through: only what got a 250 is in the mailbox, once
      expect([...ids].sort()).toEqual([...accepted].sort());
    },
    60_000,
  );
});
