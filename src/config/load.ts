// Loads mailbridge.yaml once: parse, apply environment overrides, validate, freeze.
// Every problem is reported with its key path and the line it sits on, all at once.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type Document, isMap, isPair, isScalar, LineCounter, parseDocument, type Node as YamlNode } from 'yaml';
import type { z } from 'zod';
import { type Config, configSchema, envOverrides } from './schema.js';

export interface ConfigProblem {
  /** dotted key path, e.g. `smtp.listeners.0.port` */
  readonly key: string;
  /** 1-based line in the file, when the key (or its nearest parent) is there */
  readonly line: number | undefined;
  readonly message: string;
}

export class ConfigError extends Error {
  readonly file: string;
  readonly problems: readonly ConfigProblem[];
  constructor(file: string, problems: readonly ConfigProblem[]) {
    super(problems.map((p) => formatProblem(file, p)).join('\n'));
    this.name = 'ConfigError';
    this.file = file;
    this.problems = problems;
  }
}

export function formatProblem(file: string, p: ConfigProblem): string {
  const where = p.line === undefined ? file : `${file}:${p.line}`;
  return `${where}: ${p.key || '(top level)'}: ${p.message}`;
}

export type Environment = Readonly<Record<string, string | undefined>>;

/** Told about each key that still loads but should change (a renamed key), with its line. */
export type ConfigWarn = (warning: ConfigProblem) => void;

/** Keys renamed on purpose: the old name still loads, with a warning naming the new one. */
const renamedKeys: readonly { readonly from: readonly [string, string]; readonly to: readonly [string, string] }[] = [
  // `native` meant "a Maildir here", while src/native is PMTP: one word had two meanings
  { from: ['domains', 'native'], to: ['domains', 'mailbox'] },
];

/** Reads and validates FILE. Relative paths inside it are resolved against the file's folder. */
export async function loadConfig(
  file: string,
  env: Environment = {},
  warn: ConfigWarn = () => undefined,
): Promise<Config> {
  const text = await readFile(file, 'utf8');
  return parseConfig(text, file, env, warn);
}

export function parseConfig(
  text: string,
  file: string,
  env: Environment = {},
  warn: ConfigWarn = () => undefined,
): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({
        key: '',
        line: lines.linePos(e.pos[0]).line,
        message: `YAML syntax: ${e.message.split('\n')[0]}`,
      })),
    );
  }
  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(file, [{ key: '', line: 1, message: 'the file must hold a mapping of keys' }]);
  }
  const fromEnv = applyEnvOverrides(raw as Record<string, unknown>, env);
  const renameProblems = renameKeys(raw as Record<string, unknown>, (keyPath) => lineOf(doc, keyPath, lines), warn);
  if (renameProblems.length > 0) throw new ConfigError(file, renameProblems);
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      file,
      parsed.error.issues.map((issue) => blameEnvironment(toProblem(issue, doc, lines), fromEnv)),
    );
  }
  warnSenderless(parsed.data, (keyPath) => lineOf(doc, keyPath, lines), warn);
  warnUnverified(parsed.data, (keyPath) => lineOf(doc, keyPath, lines), warn);
  warnPinnedCluster(parsed.data, (keyPath) => lineOf(doc, keyPath, lines), warn);
  return deepFreeze(resolvePaths(parsed.data, path.dirname(path.resolve(file))));
}

/**
 * A submission login owns its user name when that is an address, plus `senders`; one with neither
 * loads (older configs had no `senders`) but can send nothing, so check-config and start say so.
 */
function warnSenderless(
  config: Config,
  lineAt: (keyPath: readonly (string | number)[]) => number | undefined,
  warn: ConfigWarn,
): void {
  config.smtp.accounts.forEach((account, index) => {
    if (account.user.includes('@') || account.senders.length > 0) return;
    warn({
      key: `smtp.accounts.${index}.user`,
      line: lineAt(['smtp', 'accounts', index, 'user']),
      message: 'not an address and no senders: this login can send nothing (docs/configuration.md)',
    });
  });
}

/**
 * A domain of ours with neither a `domains.recipients` list nor a `domains.verify` source takes
 * every local part at RCPT: a Maildir for any name, or a bounce after the 250 from the Postfix
 * behind. Allowed (`source: any` says it on purpose), but check-config and start say so.
 */
function warnUnverified(
  config: Config,
  lineAt: (keyPath: readonly (string | number)[]) => number | undefined,
  warn: ConfigWarn,
): void {
  const { mailbox, postfix, recipients, verify } = config.domains;
  const unverified = (domain: string): boolean => !Object.hasOwn(recipients, domain) && !Object.hasOwn(verify, domain);
  const message =
    'no recipient source (domains.recipients or domains.verify): every local part is accepted at RCPT (docs/configuration.md)';
  mailbox.forEach((domain, index) => {
    if (!unverified(domain)) return;
    warn({ key: `domains.mailbox.${index}`, line: lineAt(['domains', 'mailbox', index]), message });
  });
  for (const domain of Object.keys(postfix).filter(unverified)) {
    warn({ key: `domains.postfix.${domain}`, line: lineAt(['domains', 'postfix', domain]), message });
  }
}

/**
 * A Redis Cluster under a {hash-tag} prefix works, but every key sits in one slot: one master does
 * all the work. Allowed (a cluster used for failover only), but check-config and start say so.
 */
function warnPinnedCluster(
  config: Config,
  lineAt: (keyPath: readonly (string | number)[]) => number | undefined,
  warn: ConfigWarn,
): void {
  if (config.redis.cluster_nodes.length === 0 || !config.redis.prefix.startsWith('{')) return;
  warn({
    key: 'redis.prefix',
    line: lineAt(['redis', 'prefix']),
    message:
      'a {hash-tag} prefix puts every key on one Redis Cluster shard; a prefix without braces spreads them (docs/operations.md)',
  });
}

/** Moves each renamed key to its new name; both names at once is an error, since they would disagree. */
function renameKeys(
  raw: Record<string, unknown>,
  lineAt: (keyPath: readonly string[]) => number | undefined,
  warn: ConfigWarn,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const { from, to } of renamedKeys) {
    const parent = raw[from[0]];
    if (typeof parent !== 'object' || parent === null || !Object.hasOwn(parent, from[1])) continue;
    const section = parent as Record<string, unknown>;
    const key = from.join('.');
    if (Object.hasOwn(section, to[1])) {
      problems.push({
        key,
        line: lineAt(from),
        message: `${key} is the old name of ${to.join('.')}; keep only ${to.join('.')}`,
      });
      continue;
    }
    section[to[1]] = section[from[1]];
    delete section[from[1]];
    warn({
      key,
      line: lineAt(from),
      message: `deprecated: renamed to ${to.join('.')} (docs/configuration.md); the old name still works`,
    });
  }
  return problems;
}

/** Sets each overridden key; returns which variable set which key, so a bad value is blamed on it. */
function applyEnvOverrides(raw: Record<string, unknown>, env: Environment): Map<string, string> {
  const applied = new Map<string, string>();
  for (const [name, keyPath] of Object.entries(envOverrides)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    applied.set(keyPath.join('.'), name);
    let node = raw;
    for (const key of keyPath.slice(0, -1)) {
      const next = node[key];
      if (typeof next !== 'object' || next === null) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[keyPath[keyPath.length - 1]!] = value;
  }
  return applied;
}

/** A value that came from the environment has no line in the file: name the variable instead. */
function blameEnvironment(problem: ConfigProblem, fromEnv: ReadonlyMap<string, string>): ConfigProblem {
  const variable = fromEnv.get(problem.key);
  if (variable === undefined) return problem;
  return { key: problem.key, line: undefined, message: `${problem.message} (set by environment variable ${variable})` };
}

function toProblem(issue: z.core.$ZodIssue, doc: Document, lines: LineCounter): ConfigProblem {
  const keyPath = issue.path.map((k) => (typeof k === 'symbol' ? String(k) : k));
  // zod reports an unknown key on its parent; point at the key itself
  if (issue.code === 'unrecognized_keys' && issue.keys.length > 0) {
    const pathToKey = [...keyPath, issue.keys[0]!];
    return {
      key: pathToKey.join('.'),
      line: lineOf(doc, pathToKey, lines),
      message: `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`,
    };
  }
  return { key: keyPath.join('.'), line: lineOf(doc, keyPath, lines), message: issue.message };
}

/** The line of a dotted key path (`smtp.listeners.0.tls.key`) in a config file's text, for later checks. */
export function lineOfKey(text: string, key: string): number | undefined {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  return lineOf(
    doc,
    key.split('.').map((k) => (/^\d+$/.test(k) ? Number(k) : k)),
    lines,
  );
}

/** Line of the deepest node on the path that exists in the document (a missing key points at its parent). */
function lineOf(doc: Document, keyPath: readonly (string | number)[], lines: LineCounter): number | undefined {
  for (let depth = keyPath.length; depth > 0; depth--) {
    const offset = keyOffset(doc, keyPath.slice(0, depth));
    if (offset !== undefined) return lines.linePos(offset).line;
  }
  return doc.contents?.range ? lines.linePos(doc.contents.range[0]).line : undefined;
}

function keyOffset(doc: Document, keyPath: readonly (string | number)[]): number | undefined {
  const parent = keyPath.length === 1 ? doc.contents : doc.getIn(keyPath.slice(0, -1), true);
  const last = keyPath[keyPath.length - 1];
  if (isMap(parent)) {
    const pair = parent.items.find(
      (item) => isPair(item) && isScalar(item.key) && String(item.key.value) === String(last),
    );
    const key = pair?.key as YamlNode | undefined;
    if (key?.range) return key.range[0];
  }
  const node = doc.getIn(keyPath, true) as YamlNode | undefined;
  return node?.range?.[0];
}

/** File paths in the config are relative to the config file, as admins expect from Postfix's main.cf neighbours. */
function resolvePaths(config: z.infer<typeof configSchema>, base: string): z.infer<typeof configSchema> {
  const at = (p: string): string => path.resolve(base, p);
  const optionalAt = (p: string | undefined): string | undefined => (p === undefined ? undefined : at(p));
  const tls = (t: { key: string; cert: string } | undefined) => (t ? { key: at(t.key), cert: at(t.cert) } : undefined);
  return {
    ...config,
    log: { ...config.log, file: config.log.file === undefined ? undefined : at(config.log.file) },
    spool: {
      ...config.spool,
      dir: at(config.spool.dir),
      s3: config.spool.s3 && {
        ...config.spool.s3,
        access_key_id_file: optionalAt(config.spool.s3.access_key_id_file),
        secret_access_key_file: optionalAt(config.spool.s3.secret_access_key_file),
      },
    },
    node: config.node && { ...config.node, secret_file: at(config.node.secret_file) },
    smtp: { ...config.smtp, listeners: config.smtp.listeners.map((l) => ({ ...l, tls: tls(l.tls) })) },
    pmtp: {
      ...config.pmtp,
      key_file: config.pmtp.key_file === undefined ? undefined : at(config.pmtp.key_file),
      retired_keys: config.pmtp.retired_keys.map((r) => ({ ...r, key_file: at(r.key_file) })),
      pow_secret_file: config.pmtp.pow_secret_file === undefined ? undefined : at(config.pmtp.pow_secret_file),
      key_ring_file: config.pmtp.key_ring_file === undefined ? undefined : at(config.pmtp.key_ring_file),
      listen: { ...config.pmtp.listen, tls: tls(config.pmtp.listen.tls) },
    },
    domains: {
      ...config.domains,
      settings: Object.fromEntries(
        Object.entries(config.domains.settings).map(([domain, own]) => [
          domain,
          {
            ...own,
            dkim: own.dkim ? { ...own.dkim, key_file: at(own.dkim.key_file) } : undefined,
            pmtp: own.pmtp ? { ...own.pmtp, key_file: at(own.pmtp.key_file) } : undefined,
            tls: tls(own.tls),
          },
        ]),
      ),
    },
    dkim: config.dkim ? { ...config.dkim, key_file: at(config.dkim.key_file) } : undefined,
    arc: config.arc ? { ...config.arc, key_file: at(config.arc.key_file) } : undefined,
    mailbox: {
      ...config.mailbox,
      maildir_root: config.mailbox.maildir_root === undefined ? undefined : at(config.mailbox.maildir_root),
    },
    egress: { ...config.egress, extra_ca_files: config.egress.extra_ca_files.map(at) },
    dns: { ...config.dns, zone_file: config.dns.zone_file === undefined ? undefined : at(config.dns.zone_file) },
  };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
