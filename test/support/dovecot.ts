// A private Debian Dovecot on loopback for the tests: LMTP on a free port, the auth service's
// SASL (auth-client) and user database (auth-userdb) sockets, a passwd-file of users and the
// quota plugin with a per-user message limit. Started with -F as a child, stopped by its pid.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, chmod, chown, mkdir, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import { freePort } from './smtp-sink.js';
import { tempDir } from './tmp.js';

export interface DovecotUser {
  /** full address, the Dovecot user name */
  readonly user: string;
  /** a scheme-prefixed hash, e.g. `{PLAIN}secret` or what `doveadm pw` prints */
  readonly password: string;
  /** quota_rule for this user alone, e.g. `*:messages=1` */
  readonly quota?: string;
}

export interface PrivateDovecot {
  readonly lmtpPort: number;
  /** auth-client: the SASL socket Postfix's smtpd_sasl_type=dovecot speaks to */
  readonly authSocket: string;
  /** auth-userdb: user lookups */
  readonly userdbSocket: string;
  /** Adds a user to the passwd-file, which Dovecot re-reads at its next lookup. */
  addUser(user: DovecotUser): Promise<void>;
  /** Empties `user`'s Maildir new/ and has Dovecot recount the quota (a user who made room). */
  makeRoom(user: string): Promise<void>;
  /** the files delivered to `user`'s Maildir new/ */
  delivered(user: string): Promise<string[]>;
  stop(): Promise<void>;
}

/** Why Dovecot tests cannot run here, or undefined when they can. */
export function dovecotMissing(): string | undefined {
  for (const binary of ['/usr/sbin/dovecot', '/usr/lib/dovecot/lmtp', '/usr/bin/doveadm']) {
    if (!existsSync(binary)) return `${binary} is missing (apt-get install dovecot-core dovecot-lmtpd)`;
  }
  if (userInfo().uid !== 0) return 'a private Dovecot here needs root (it drops mail delivery to nobody)';
  return undefined;
}

/** A hash of `password` in `scheme`, made by Dovecot itself. */
export function doveadmHash(scheme: string, password: string): string {
  return execFileSync('doveadm', ['pw', '-s', scheme, '-p', password], { encoding: 'utf8' }).trim();
}

export interface DovecotOptions {
  /** a full mailbox answers 452 4.2.2 (retry) instead of 552 5.2.2 (Dovecot's quota_full_tempfail) */
  readonly quotaTempfail?: boolean;
}

export async function startDovecot(
  users: readonly DovecotUser[],
  options: DovecotOptions = {},
): Promise<PrivateDovecot> {
  const { dir, remove } = await tempDir('dovecot');
  // the auth process runs as `dovecot` and must read the users file
  await chmod(dir, 0o755);
  const mail = path.join(dir, 'mail');
  await mkdir(mail);
  await chown(mail, 65534, 65534);
  const lmtpPort = await freePort();
  const newFolder = (user: string): string => {
    const [local, domain] = user.split('@') as [string, string];
    return path.join(mail, domain, local, 'Maildir', 'new');
  };
  const line = (u: DovecotUser): string =>
    `${u.user}:${u.password}::::::${u.quota ? `userdb_quota_rule=${u.quota}` : ''}\n`;
  const usersFile = path.join(dir, 'users');
  await writeFile(usersFile, users.map(line).join(''), { mode: 0o644 });
  const conf = path.join(dir, 'dovecot.conf');
  await writeFile(conf, dovecotConf(dir, lmtpPort, options));
  const child = spawn('/usr/sbin/dovecot', ['-F', '-c', path.join(dir, 'dovecot.conf')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const run = path.join(dir, 'run');
  await waitFor(
    () => existsSync(path.join(run, 'auth-client')) && existsSync(path.join(run, 'auth-userdb')),
    child,
    () => stderr,
  );
  await waitPort(lmtpPort);
  return {
    lmtpPort,
    authSocket: path.join(run, 'auth-client'),
    userdbSocket: path.join(run, 'auth-userdb'),
    async addUser(user) {
      const before = (await stat(usersFile)).mtimeMs;
      await appendFile(usersFile, line(user));
      // Dovecot notices a changed passwd-file by its mtime in whole seconds, and stats it at most once a second
      const later = new Date(Math.max(Date.now(), before + 1000));
      await utimes(usersFile, later, later);
      await new Promise((resolve) => setTimeout(resolve, 1100));
    },
    async delivered(user) {
      const box = newFolder(user);
      return existsSync(box) ? readdir(box) : [];
    },
    async makeRoom(user) {
      const box = newFolder(user);
      for (const file of await readdir(box)) await rm(path.join(box, file));
      execFileSync('doveadm', ['-c', conf, 'quota', 'recalc', '-u', user]);
    },
    async stop() {
      await stopChild(child);
      await remove();
    },
  };
}

function dovecotConf(dir: string, lmtpPort: number, options: DovecotOptions): string {
  return `base_dir = ${dir}/run
state_dir = ${dir}/state
instance_name = mb-dovecot-${path.basename(dir)}
protocols = lmtp
listen = 127.0.0.1
ssl = no
log_path = ${dir}/dovecot.log
auth_mechanisms = plain login
disable_plaintext_auth = no
auth_failure_delay = 0
mail_location = maildir:~/Maildir
mail_plugins = quota
lmtp_rcpt_check_quota = no
quota_full_tempfail = ${options.quotaTempfail ? 'yes' : 'no'}
passdb {
  driver = passwd-file
  args = username_format=%u ${dir}/users
}
userdb {
  driver = passwd-file
  args = username_format=%u ${dir}/users
  default_fields = uid=nobody gid=nogroup home=${dir}/mail/%d/%n
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${lmtpPort}
  }
}
service auth {
  unix_listener auth-client {
    mode = 0666
  }
  unix_listener auth-userdb {
    mode = 0666
  }
}
# no growing delay after failed logins from one address (anvil's auth penalty): tests fail on purpose
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
plugin {
  quota = count:User quota
  quota_rule = *:messages=1000
  quota_vsizes = yes
}
`;
}

async function waitFor(ready: () => boolean, child: ChildProcess, stderr: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`dovecot exited ${child.exitCode}: ${stderr()}`);
    if (ready()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`dovecot did not start: ${stderr()}`);
}

async function waitPort(port: number): Promise<void> {
  const { connect } = await import('node:net');
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`dovecot lmtp did not listen on ${port}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}
