// `mailbridge staging` as a child process for the attack suites: the real gateway in its own
// process (so a crash or a stalled event loop shows), its ready line, Maildir polling, liveness.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { deleteKeys, redisUrl } from '../support/redis.js';
import { tempDir } from '../support/tmp.js';

const main = path.join(import.meta.dirname, '../../dist/cli/main.js');

export interface StagingDomain {
  readonly mx: string;
  readonly submission: string;
  readonly pmtp: string;
  readonly user: string;
  readonly password: string;
}

export interface Staging {
  readonly child: ChildProcess;
  readonly dir: string;
  readonly domains: Record<string, StagingDomain>;
  /** port of a `127.0.0.1:P` address */
  port(address: string): number;
  /** the files in DIR/<domain>/Maildir/<user>/new */
  delivered(domain: string, user: string): Promise<string[]>;
  /** polls until `user` has at least `count` files, or the timeout passes */
  waitDelivered(domain: string, user: string, count: number, timeoutMs: number): Promise<string[]>;
  alive(): boolean;
  stop(): Promise<void>;
}

export async function startStaging(domains: readonly string[], legacy: readonly string[] = []): Promise<Staging> {
  const { dir, remove } = await tempDir('attack');
  const args = [main, 'staging', '--domains', domains.join(','), '--dir', dir, '--redis', redisUrl];
  if (legacy.length > 0) args.push('--legacy', legacy.join(','));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`staging exited with ${code}`)));
  });
  const ready = JSON.parse(first) as { domains: Record<string, StagingDomain> };
  const box = (domain: string, user: string) => path.join(dir, domain, 'Maildir', user, 'new');
  const delivered = async (domain: string, user: string) => {
    const names = (await readdir(box(domain, user)).catch(() => [] as string[])).sort();
    return Promise.all(names.map((n) => readFile(path.join(box(domain, user), n), 'latin1')));
  };
  return {
    child,
    dir,
    domains: ready.domains,
    port: (address) => Number(address.slice(address.lastIndexOf(':') + 1)),
    delivered,
    async waitDelivered(domain, user, count, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const files = await delivered(domain, user);
        if (files.length >= count || Date.now() > deadline) return files;
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    alive: () => child.exitCode === null && child.signalCode === null,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGKILL');
        await exited;
      }
      // staging's Redis prefix per domain (src/staging/staging-network.ts), so no keys outlive the test
      const folder = createHash('sha256').update(dir).digest('hex').slice(0, 8);
      for (const domain of Object.keys(ready.domains)) await deleteKeys(`{mb-${folder}-${domain}}`);
      await remove();
    },
  };
}
