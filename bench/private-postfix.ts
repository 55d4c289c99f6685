// A private Postfix instance (own config, queue and data folders in a temp dir) taking mail on a
// loopback port: delivering every recipient of a domain into Maildirs behind STARTTLS (the e2e
// tests' peer), relaying one domain to another port (a chain's first hop), or discarding after
// cleanup's fsync (the benchmarks' durable baseline).
// Needs root and the Debian postfix package; mail_owner is the package's `postfix` user.

import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { treeCpuSeconds } from './process-cpu.js';

const run = promisify(execFile);

export interface PrivatePostfix {
  readonly port: number;
  /** the files in Maildir/new (of `user` when users were listed), oldest first */
  delivered(user?: string): Promise<Buffer[]>;
  /** how many files are in Maildir/new, without reading them */
  deliveredCount(user?: string): Promise<number>;
  /** seconds of CPU the master and every daemon it started used so far, exited ones included */
  cpuSeconds(): Promise<number>;
  log(): Promise<string>;
  /** Sets main.cf parameters (`postconf -e`) and restarts Postfix on the same port. */
  reconfigure(settings: Readonly<Record<string, string>>): Promise<void>;
  stop(): Promise<void>;
}

export interface PrivatePostfixOptions {
  readonly port: number;
  /** the virtual mailbox domain; absent with `discard` or `relay` */
  readonly domain?: string;
  /** relays all mail for this domain to this loopback port by SMTP (no TLS): the first hop of a chain */
  readonly relay?: { readonly domain: string; readonly port: number };
  /** every message is thrown away by the discard transport once accepted (no TLS, no mailboxes) */
  readonly discard?: boolean;
  /** raises the smtpd process limit for this many parallel sessions (default: Postfix's 100) */
  readonly maxSessions?: number;
  readonly mynetworks?: string;
  /** local parts with a Maildir each (`virtual_mailbox_maps`); absent: everyone shares one */
  readonly users?: readonly string[];
  /** main.cf settings on top of the defaults; `$config_directory` names the private etc/ */
  readonly main?: Readonly<Record<string, string>>;
  /** `-o name=value` overrides on the smtpd of `port` */
  readonly smtpd?: Readonly<Record<string, string>>;
  /** more master.cf lines, e.g. a reinjection smtpd */
  readonly master?: string;
  /** lookup tables written to etc/NAME and compiled with postmap, for `hash:$config_directory/NAME` */
  readonly maps?: Readonly<Record<string, string>>;
}

export async function startPrivatePostfix(options: PrivatePostfixOptions): Promise<PrivatePostfix> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mailbridge-postfix-'));
  // Postfix's daemons run as `postfix` and must be able to walk into the folders
  await chmod(dir, 0o755);
  const uid = Number((await run('id', ['-u', 'postfix'])).stdout.trim());
  const gid = Number((await run('id', ['-g', 'postfix'])).stdout.trim());
  const etc = path.join(dir, 'etc');
  for (const sub of ['etc', 'queue', 'data', 'mail']) await mkdir(path.join(dir, sub));
  await chown(path.join(dir, 'data'), uid, gid);
  await chown(path.join(dir, 'mail'), uid, gid);
  const hostname = options.domain ? `mx.${options.domain}` : 'postfix.bench.test';
  const main: Record<string, string> = {
    compatibility_level: '3.6',
    queue_directory: path.join(dir, 'queue'),
    data_directory: path.join(dir, 'data'),
    mail_owner: 'postfix',
    setgid_group: 'postdrop',
    inet_interfaces: '127.0.0.1',
    inet_protocols: 'ipv4',
    myhostname: hostname,
    mydestination: '',
    mynetworks: options.mynetworks ?? '127.0.0.0/8',
    maillog_file: path.join(dir, 'maillog'),
    maillog_file_prefixes: dir,
    smtpd_peername_lookup: 'no',
    smtp_dns_support_level: 'disabled',
    alias_maps: '',
    alias_database: '',
    ...(options.maxSessions ? { default_process_limit: String(options.maxSessions + 50) } : {}),
    ...(options.discard
      ? discardSettings
      : options.relay
        ? relaySettings(options.relay)
        : await mailboxSettings(dir, etc, options, uid, gid, hostname)),
    ...options.main,
  };
  await writeFile(
    path.join(etc, 'main.cf'),
    Object.entries(main)
      .map(([k, v]) => `${k} = ${v}\n`)
      .join(''),
  );
  const smtpd = Object.entries(options.smtpd ?? {})
    .map(([k, v]) => `  -o ${k}=${v}\n`)
    .join('');
  await writeFile(
    path.join(etc, 'master.cf'),
    masterCf(options.port, options.maxSessions) + smtpd + (options.master ?? ''),
  );
  const maps = {
    ...options.maps,
    ...(options.users ? { vmailbox: options.users.map((u) => `${u}@${options.domain} ${u}/\n`).join('') } : {}),
  };
  for (const [name, content] of Object.entries(maps)) {
    await writeFile(path.join(etc, name), content);
    await run('postmap', ['-c', etc, `hash:${path.join(etc, name)}`]);
  }
  const start = (): Promise<unknown> =>
    run('postfix', ['-c', etc, 'start']).catch((err: { stderr?: string; message: string }) => {
      throw new Error(`postfix would not start: ${err.stderr || err.message}`);
    });
  await start();
  const stopMaster = async (): Promise<void> => {
    const pid = Number((await readFile(path.join(dir, 'queue', 'pid', 'master.pid'), 'utf8').catch(() => '0')).trim());
    await run('postfix', ['-c', etc, 'stop']).catch(() => undefined);
    // wait for master to go so no daemon writes into a removed folder or holds the port
    for (let i = 0; pid > 0 && i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  };
  return {
    port: options.port,
    delivered: async (user = 'inbox') => {
      const maildir = path.join(dir, 'mail', user, 'new');
      const names = await readdir(maildir).catch(() => [] as string[]);
      return Promise.all(names.sort().map((n) => readFile(path.join(maildir, n))));
    },
    deliveredCount: async (user = 'inbox') =>
      (await readdir(path.join(dir, 'mail', user, 'new')).catch(() => [] as string[])).length,
    cpuSeconds: async () =>
      treeCpuSeconds(Number((await readFile(path.join(dir, 'queue', 'pid', 'master.pid'), 'utf8')).trim())),
    log: () => readFile(path.join(dir, 'maillog'), 'utf8').catch(() => ''),
    reconfigure: async (settings) => {
      await run('postconf', ['-c', etc, '-e', ...Object.entries(settings).map(([k, v]) => `${k}=${v}`)]);
      // a full restart, not `reload`: no old daemon may route one more message by the old rules
      await stopMaster();
      await start();
    },
    stop: async () => {
      await stopMaster();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const discardSettings = {
  default_transport: 'discard',
  relay_transport: 'discard',
  local_transport: 'discard',
  virtual_transport: 'discard',
};

function relaySettings(relay: { domain: string; port: number }): Record<string, string> {
  return {
    relay_domains: relay.domain,
    transport_maps: `inline:{ ${relay.domain}=smtp:[127.0.0.1]:${relay.port} }`,
    smtp_tls_security_level: 'none',
  };
}

/** Virtual Maildirs for `domain`, and STARTTLS with a self-signed certificate nothing could verify. */
async function mailboxSettings(
  dir: string,
  etc: string,
  options: PrivatePostfixOptions,
  uid: number,
  gid: number,
  hostname: string,
): Promise<Record<string, string>> {
  if (!options.domain) throw new Error('a delivering Postfix needs a domain');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    `/CN=${hostname}`,
    '-keyout',
    path.join(etc, 'key.pem'),
    '-out',
    path.join(etc, 'cert.pem'),
  ]);
  return {
    virtual_mailbox_domains: options.domain,
    virtual_mailbox_base: path.join(dir, 'mail'),
    virtual_mailbox_maps: options.users ? 'hash:$config_directory/vmailbox' : 'static:inbox/',
    virtual_uid_maps: `static:${uid}`,
    virtual_gid_maps: `static:${gid}`,
    smtpd_tls_security_level: 'may',
    smtpd_tls_cert_file: path.join(etc, 'cert.pem'),
    smtpd_tls_key_file: path.join(etc, 'key.pem'),
    smtpd_tls_received_header: 'yes',
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The services a delivering or discarding Postfix needs, none chrooted (the temp dir is no jail); smtpd last, for its -o lines. */
function masterCf(port: number, maxSessions: number | undefined): string {
  return `pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
proxymap  unix  - - n -  - proxymap
smtp      unix  - - n -  - smtp
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
virtual   unix  - n n -  - virtual
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
tlsmgr    unix  - - n 1000? 1 tlsmgr
127.0.0.1:${port} inet n - n - ${maxSessions ? maxSessions + 10 : '-'} smtpd
`;
}
