// Every `mailbridge …` example an admin can copy, from README.md, docs/*.md and the CLI's own help,
// is run by the built CLI against a real Redis and a scratch config: none may be a usage error (64),
// a config error (2) or a crash (70). Servers (start, staging) must reach their ready line.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { generateDomainKey } from '../../src/native/protocol/domain-keys.js';
import { deleteKeys, redisUrl, testPrefix } from '../support/redis.js';
import { tempDir } from '../support/tmp.js';

const run = promisify(execFile);
const root = path.join(import.meta.dirname, '../..');
const main = path.join(root, 'dist/cli/entry.cjs');

async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [main, ...args], {
      env: { PATH: process.env.PATH, ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** `mailbridge …` lines inside fenced code blocks, with an optional `$ ` or `npx ` in front. */
function examplesInMarkdown(text: string): string[] {
  const found: string[] = [];
  let fenced = false;
  for (const line of text.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    else if (fenced) {
      const m = /^\s*(?:\$ )?(?:npx )?mailbridge ([^#]+?)\s*(?:#.*)?$/.exec(line);
      if (m) found.push(m[1]!);
    }
  }
  return found;
}

/** Examples in help texts: the list under `Examples:` and each "Example: mailbridge …" line (not usage synopses). */
function examplesInHelp(text: string): string[] {
  const found: string[] = [];
  let inList = false;
  for (const line of text.split('\n')) {
    if (/^Examples?:\s*$/.test(line)) inList = true;
    else if (inList && !/^\s+mailbridge /.test(line)) inList = false;
    const m = /^(?:\s+|Example: )mailbridge (.+?)\s*$/.exec(line);
    if (m && (inList || line.startsWith('Example: '))) found.push(m[1]!);
  }
  return found;
}

const servers = new Set(['start', 'staging']);

describe('documented CLI examples', () => {
  const prefix = testPrefix();
  let dir: string;
  let remove: () => Promise<void>;
  let configFile: string;
  const examples = new Map<string, string>(); // example -> where it is documented

  beforeAll(async () => {
    ({ dir, remove } = await tempDir('cli-examples'));
    const key = generateDomainKey();
    await writeFile(path.join(dir, 'pmtp.key'), key.privatePem, { mode: 0o600 });
    configFile = path.join(dir, 'mailbridge.yaml');
    await writeFile(
      configFile,
      stringify({
        hostname: 'mx.example.org',
        redis: { url: redisUrl, prefix },
        spool: { dir: path.join(dir, 'spool') },
        smtp: { listeners: [{ role: 'mx', host: '127.0.0.1', port: 0 }] },
        domains: { mailbox: ['example.org'] },
        mailbox: { maildir_root: path.join(dir, 'mail') },
        pmtp: {
          domain: 'example.org',
          key_file: path.join(dir, 'pmtp.key'),
          listen: { host: '127.0.0.1', port: 0, plain_http: true },
        },
        metrics: { host: '127.0.0.1', port: 0 },
      }),
    );
    const docs = ['README.md', ...(await readdir(path.join(root, 'docs'))).map((f) => `docs/${f}`)].filter((f) =>
      f.endsWith('.md'),
    );
    for (const doc of docs)
      for (const e of examplesInMarkdown(await readFile(path.join(root, doc), 'utf8'))) examples.set(e, doc);
    const help = await cli(['--help']);
    for (const e of examplesInHelp(help.stdout)) examples.set(e, 'mailbridge --help');
    for (const command of new Set([...examples.keys()].map((e) => e.split(' ')[0]!)))
      if (!command.startsWith('-'))
        for (const e of examplesInHelp((await cli([command, '--help'])).stdout))
          examples.set(e, `mailbridge ${command} --help`);
  }, 120_000);
  afterAll(async () => {
    await deleteKeys(prefix);
    await remove();
  });

  /** The example's words with placeholders and site paths pointed at this test's scratch files. */
  function concrete(example: string, index: number): string[] {
    return example.split(/\s+/).map(
      (word) =>
        /^(FILE|mb\.yaml|\/etc\/mailbridge\/mailbridge\.yaml|examples\/mailbridge\.yaml)$/.test(word)
          ? configFile
          : /^(\.\/keys|\/etc\/mailbridge\/keys)$/.test(word)
            ? path.join(dir, `keys-${index}`)
            : word === './stage'
              ? path.join(dir, `stage-${index}`)
              : word.replace(/^'(.*)'$/, '$1'), // the shell's quotes, as in --sender '<>'
    );
  }

  it('finds the examples the docs promise', () => {
    const commands = new Set([...examples.keys()].map((e) => e.split(' ')[0]));
    for (const c of ['check-config', 'start', 'keys', 'queue', 'status', 'tokens', 'staging', 'config'])
      expect(commands, `an example of mailbridge ${c}`).toContain(c);
  });

  it('runs every example without a usage, config or software error', async () => {
    const failures: string[] = [];
    let index = 0;
    for (const [example, where] of examples) {
      const args = concrete(example, index++);
      if (servers.has(args[0]!)) {
        const ready = await untilReady(args);
        if (!ready.ok) failures.push(`${where}: mailbridge ${example}\n  ${ready.detail}`);
        continue;
      }
      const { code, stderr } = await cli(args, { REDIS_URL: redisUrl });
      if (code === 2 || code === 64 || code === 70 || /Unknown option|Usage:/.test(stderr))
        failures.push(`${where}: mailbridge ${example}\n  exit ${code}: ${stderr.trim().split('\n')[0]}`);
    }
    expect(failures).toEqual([]);
  }, 240_000);

  /** Starts a server example and waits for its ready line, then stops it with SIGTERM. */
  async function untilReady(args: string[]): Promise<{ ok: boolean; detail: string }> {
    const child: ChildProcess = spawn(process.execPath, [main, ...args], {
      env: { PATH: process.env.PATH, REDIS_URL: redisUrl },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const result = await new Promise<{ ok: boolean; detail: string }>((resolve) => {
      const timer = setTimeout(
        () => resolve({ ok: false, detail: `no ready line in 60 s: ${err.slice(0, 300)}` }),
        60_000,
      );
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (/^mailbridge started|^\{"ready":true/m.test(out)) {
          clearTimeout(timer);
          resolve({ ok: true, detail: '' });
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve({ ok: false, detail: `exit ${code}: ${err.trim().split('\n')[0]}` });
      });
    });
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    return result;
  }
});
