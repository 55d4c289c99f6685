// The built CLI's `mailbridge staging` as a child process: resolves with its one JSON ready line,
// for tests that drive the whole network from outside, kill it with -9 and start it again.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

const main = path.join(import.meta.dirname, '../../dist/cli/main.js');

export interface StagingReady {
  ready: true;
  dir: string;
  domains: Record<string, { mx: string; submission: string; pmtp: string; user: string; password: string }>;
  legacy: Record<string, { smtp: string }>;
}

export interface StagingProcess {
  readonly child: ChildProcess;
  readonly ready: StagingReady;
  /** every stdout line, the ready line first: there should never be a second */
  readonly stdoutLines: string[];
  /** the last few KB the process wrote to stderr */
  stderrTail(): string;
}

/** `args` follow `staging`, e.g. ['--domains', 'a.test', '--dir', dir]. */
export async function startStagingProcess(args: readonly string[]): Promise<StagingProcess> {
  const child = spawn(process.execPath, [main, 'staging', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  // read stderr even when nobody looks at it: a full pipe would stall the child
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const lines = createInterface({ input: child.stdout! });
  const stdoutLines: string[] = [];
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`staging exited with ${code}: ${stderr}`)));
  });
  stdoutLines.push(first);
  lines.on('line', (l) => stdoutLines.push(l));
  return { child, ready: JSON.parse(first) as StagingReady, stdoutLines, stderrTail: () => stderr };
}
