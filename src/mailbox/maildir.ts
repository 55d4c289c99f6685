// Local delivery for `domains.mailbox`: one file per message in MAILDIR_ROOT/<domain>/Maildir/<user>/new/,
// written the Maildir way (tmp/, fsync, rename into new/), so a mail client never sees half a message.
// A caller-given stable name is placed with link(), which refuses a name already there: no second copy.

import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { link, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface MaildirDelivery {
  readonly file: string;
  readonly size: number;
  /** the stable name was already in new/: an earlier attempt delivered it */
  readonly duplicate?: boolean;
}

/** The folder of one mailbox; `user` is the local part, lowercased, and may not name a path. */
export function mailboxDir(root: string, domain: string, user: string): string {
  const local = user.toLowerCase();
  if (!/^[^/\\\0]+$/.test(local) || local === '.' || local === '..' || local.startsWith('.')) {
    throw new Error(`local part cannot be a mailbox name: ${JSON.stringify(user)}`);
  }
  if (!/^[a-z0-9.-]+$/.test(domain)) throw new Error(`not a domain: ${JSON.stringify(domain)}`);
  return path.join(root, domain, 'Maildir', local);
}

/**
 * The file name one message gets in one mailbox, the same on every attempt: `key` names the message
 * for good (a queue id, a PMTP id, a Message-ID), so a second copy's link() meets the first.
 */
export function stableMaildirName(key: string, domain: string, user: string): string {
  return `${createHash('sha256').update(`${key}\n${domain}/${user.toLowerCase()}`).digest('hex').slice(0, 32)}.mailbridge`;
}

/** Unique per delivery, in the conventional `time.M<micros>P<pid>R<random>.host` form. */
function uniqueName(nowMs: number, hostname: string): string {
  const seconds = Math.floor(nowMs / 1000);
  const micros = (nowMs % 1000) * 1000;
  return `${seconds}.M${micros}P${process.pid}R${randomBytes(6).toString('hex')}.${hostname.replace(/[/:]/g, '_')}`;
}

export async function deliverToMaildir(
  root: string,
  address: { domain: string; user: string },
  message: Readable | AsyncIterable<Buffer>,
  options: { hostname: string; now: number; name?: string },
): Promise<MaildirDelivery> {
  const box = mailboxDir(root, address.domain, address.user);
  await Promise.all(['tmp', 'new', 'cur'].map((sub) => mkdir(path.join(box, sub), { recursive: true, mode: 0o700 })));
  const unique = uniqueName(options.now, options.hostname);
  const name = options.name ?? unique;
  const tmpFile = path.join(box, 'tmp', unique);
  let size = 0;
  try {
    await pipeline(
      message,
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          size += chunk.length;
          yield chunk;
        }
      },
      createWriteStream(tmpFile, { flags: 'wx', mode: 0o600 }),
    );
    const handle = await open(tmpFile, 'r');
    await handle.sync().finally(() => handle.close());
    const file = path.join(box, 'new', name);
    let duplicate = false;
    if (options.name) {
      duplicate = await link(tmpFile, file).then(
        () => false,
        (err: NodeJS.ErrnoException) => (err.code === 'EEXIST' ? true : Promise.reject(err)),
      );
      await rm(tmpFile, { force: true });
    } else {
      await rename(tmpFile, file);
    }
    const dir = await open(path.join(box, 'new'), 'r');
    await dir.sync().finally(() => dir.close());
    return { file, size, duplicate };
  } catch (err) {
    await rm(tmpFile, { force: true });
    throw err;
  }
}

/** The file a stable name became: still in new/, or in cur/ once a mail client saw it (`name:2,FLAGS`). */
export async function findInMaildir(
  root: string,
  address: { domain: string; user: string },
  name: string,
): Promise<string | undefined> {
  const box = mailboxDir(root, address.domain, address.user);
  const fresh = path.join(box, 'new', name);
  if (
    await stat(fresh).then(
      () => true,
      () => false,
    )
  )
    return fresh;
  const seen = (await readdir(path.join(box, 'cur')).catch(() => [])).find(
    (f) => f === name || f.startsWith(`${name}:`),
  );
  return seen ? path.join(box, 'cur', seen) : undefined;
}
