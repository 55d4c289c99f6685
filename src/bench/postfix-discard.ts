// A private Postfix for benchmarks: its own config, queue and data folders in a temp dir, smtpd
// on a loopback port, every message accepted durably (cleanup fsyncs before the 250) and then
// thrown away by the discard transport. Needs root and the Debian postfix package.

import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface DiscardingPostfix {
  readonly port: number;
  stop(): Promise<void>;
}

/** Runs in a temp dir of its own (removed by `stop`), so the `postfix` user can walk into it. */
export async function startDiscardingPostfix(port: number, maxSessions: number): Promise<DiscardingPostfix> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mailbridge-bench-postfix-'));
  await chmod(dir, 0o755); // the daemons run as `postfix` and must walk in
  const uid = Number((await run('id', ['-u', 'postfix'])).stdout.trim());
  const gid = Number((await run('id', ['-g', 'postfix'])).stdout.trim());
  const etc = path.join(dir, 'etc');
  for (const sub of ['etc', 'queue', 'data']) await mkdir(path.join(dir, sub));
  await chown(path.join(dir, 'data'), uid, gid);
  const main = {
    compatibility_level: '3.6',
    queue_directory: path.join(dir, 'queue'),
    data_directory: path.join(dir, 'data'),
    mail_owner: 'postfix',
    setgid_group: 'postdrop',
    inet_interfaces: '127.0.0.1',
    inet_protocols: 'ipv4',
    myhostname: 'postfix.bench.test',
    mydestination: '',
    mynetworks: '127.0.0.0/8',
    default_transport: 'discard',
    relay_transport: 'discard',
    local_transport: 'discard',
    virtual_transport: 'discard',
    default_process_limit: String(maxSessions + 50),
    maillog_file: path.join(dir, 'maillog'),
    maillog_file_prefixes: dir,
    smtpd_peername_lookup: 'no',
    alias_maps: '',
    alias_database: '',
  };
  await writeFile(path.join(etc, 'main.cf'), Object.entries(main).map(([k, v]) => `${k} = ${v}\n`).join(''));
  await writeFile(path.join(etc, 'master.cf'), masterCf(port, maxSessions));
  await run('postfix', ['-c', etc, 'start']).catch((err: { stderr?: string; message: string }) => {
    throw new Error(`postfix would not start: ${err.stderr || err.message}`);
  });
  return {
    port,
    async stop() {
      const pid = Number((await readFile(path.join(dir, 'queue', 'pid', 'master.pid'), 'utf8').catch(() => '0')).trim());
      await run('postfix', ['-c', etc, 'stop']).catch(() => undefined);
      // wait for master to go, so no daemon writes into the folder being removed
      for (let i = 0; pid > 0 && i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
      await rm(dir, { recursive: true, force: true });
    },
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

/** Only what accepting and discarding needs; nothing chrooted (the temp dir is no jail). */
function masterCf(port: number, maxSessions: number): string {
  return `127.0.0.1:${port} inet n - n - ${maxSessions + 10} smtpd
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
discard   unix  - - n -  - discard
anvil     unix  - - n -  1 anvil
proxymap  unix  - - n -  - proxymap
postlog   unix-dgram n - n - 1 postlogd
`;
}
