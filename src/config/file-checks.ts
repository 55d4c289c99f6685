// The files and folders a loaded config names, checked the way the gateway will use them: keys and
// certificates readable (and private keys not readable by others), folders writable. Run by
// check-config, so a missing file is found before `start`, not by a restart loop.

import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from './schema.js';

export interface FileProblem {
  /** dotted key path of the setting that names the file */
  readonly key: string;
  readonly severity: 'error' | 'warning';
  readonly message: string;
}

type Kind = 'secret' | 'public' | 'dir' | 'parent' | 'secret-or-parent';

interface Reference {
  readonly key: string;
  readonly file: string;
  /** secret: read, not group/world readable; public: read; dir: writable folder (created at start if
   * its parent is writable); parent: the file may not exist yet, its folder must be writable */
  readonly kind: Kind;
}

/** Every file setting present in the config, with how the gateway uses it. */
export function fileReferences(config: Config): Reference[] {
  const refs: Reference[] = [];
  const tls = (key: string, t: { key: string; cert: string } | undefined) => {
    if (!t) return;
    refs.push({ key: `${key}.key`, file: t.key, kind: 'secret' }, { key: `${key}.cert`, file: t.cert, kind: 'public' });
  };
  for (const [i, l] of config.smtp.listeners.entries()) tls(`smtp.listeners.${i}.tls`, l.tls);
  tls('pmtp.listen.tls', config.pmtp.listen.tls);
  if (config.node) refs.push({ key: 'node.secret_file', file: config.node.secret_file, kind: 'secret' });
  if (config.pmtp.key_file) refs.push({ key: 'pmtp.key_file', file: config.pmtp.key_file, kind: 'secret' });
  for (const [i, r] of config.pmtp.retired_keys.entries())
    refs.push({ key: `pmtp.retired_keys.${i}.key_file`, file: r.key_file, kind: 'secret' });
  if (config.pmtp.pow_secret_file)
    // created on first start when absent
    refs.push({ key: 'pmtp.pow_secret_file', file: config.pmtp.pow_secret_file, kind: 'secret-or-parent' });
  if (config.pmtp.key_ring_file)
    // written by `mailbridge keys rotate` when absent
    refs.push({ key: 'pmtp.key_ring_file', file: config.pmtp.key_ring_file, kind: 'secret-or-parent' });
  for (const [i, file] of config.egress.extra_ca_files.entries())
    refs.push({ key: `egress.extra_ca_files.${i}`, file, kind: 'public' });
  if (config.dkim) refs.push({ key: 'dkim.key_file', file: config.dkim.key_file, kind: 'secret' });
  for (const [domain, own] of Object.entries(config.domains.settings)) {
    const at = `domains.settings.${domain}`;
    if (own.dkim) refs.push({ key: `${at}.dkim.key_file`, file: own.dkim.key_file, kind: 'secret' });
    if (own.pmtp) refs.push({ key: `${at}.pmtp.key_file`, file: own.pmtp.key_file, kind: 'secret' });
    tls(`${at}.tls`, own.tls);
  }
  if (config.arc) refs.push({ key: 'arc.key_file', file: config.arc.key_file, kind: 'secret' });
  if (config.dns.zone_file) refs.push({ key: 'dns.zone_file', file: config.dns.zone_file, kind: 'public' });
  refs.push({ key: 'spool.dir', file: config.spool.dir, kind: 'dir' });
  for (const key of ['access_key_id_file', 'secret_access_key_file'] as const) {
    const file = config.spool.s3?.[key];
    if (file) refs.push({ key: `spool.s3.${key}`, file, kind: 'secret' });
  }
  if (config.mailbox.maildir_root)
    refs.push({ key: 'mailbox.maildir_root', file: config.mailbox.maildir_root, kind: 'dir' });
  if (config.log.file) refs.push({ key: 'log.file', file: config.log.file, kind: 'parent' });
  return refs;
}

export async function checkReferencedFiles(config: Config): Promise<FileProblem[]> {
  const problems: FileProblem[] = [];
  for (const ref of fileReferences(config)) {
    const problem = await checkOne(ref);
    if (problem) problems.push({ key: ref.key, ...problem });
  }
  return problems;
}

async function checkOne({ file, kind }: Reference): Promise<Omit<FileProblem, 'key'> | undefined> {
  const info = await stat(file).catch((err: NodeJS.ErrnoException) => err);
  if (info instanceof Error) {
    if (info.code !== 'ENOENT') return error(`${file}: ${info.code ?? info.message}`);
    if (kind === 'secret' || kind === 'public') return error(`${file} does not exist`);
    // a folder or file the gateway creates (with any missing parents): the nearest existing folder must let it
    const ancestor = await nearestExisting(path.dirname(file));
    return writable(ancestor, `${file} does not exist and ${ancestor}`);
  }
  if (kind === 'dir') {
    if (!info.isDirectory()) return error(`${file} is not a folder`);
    return writable(file, file);
  }
  if (kind === 'parent') return writable(file, file);
  if (!info.isFile()) return error(`${file} is not a file`);
  if (!(await can(file, constants.R_OK))) return error(`${file} is not readable by this user`);
  if (kind !== 'public' && (info.mode & 0o077) !== 0)
    return {
      severity: 'warning',
      message: `${file} is readable by others (mode ${(info.mode & 0o777).toString(8)}); chmod 600 or 640 with a group`,
    };
  return undefined;
}

async function writable(target: string, label: string): Promise<Omit<FileProblem, 'key'> | undefined> {
  return (await can(target, constants.W_OK)) ? undefined : error(`${label} is not writable by this user`);
}

async function nearestExisting(dir: string): Promise<string> {
  let current = dir;
  while (!(await can(current, constants.F_OK)) && path.dirname(current) !== current) current = path.dirname(current);
  return current;
}

async function can(target: string, mode: number): Promise<boolean> {
  return access(target, mode).then(
    () => true,
    () => false,
  );
}

function error(message: string): Omit<FileProblem, 'key'> {
  return { severity: 'error', message };
}
