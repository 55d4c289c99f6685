// CPU time of processes on Linux, read from /proc: one process (a gateway child, redis-server),
// or a daemon with every process it started (a Postfix master and its smtpd, cleanup, qmgr...).

import { readdir, readFile } from 'node:fs/promises';

/** clock ticks per second in /proc/<pid>/stat (USER_HZ, 100 on every Linux architecture Node runs on) */
const TICKS = 100;

interface Stat {
  readonly ppid: number;
  /** user + system time of the process itself */
  readonly own: number;
  /** user + system time of its children that exited and were waited for */
  readonly reaped: number;
}

async function stat(pid: number): Promise<Stat | undefined> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  // the command name in parentheses may hold spaces: fields count from its closing parenthesis
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const n = (i: number): number => Number(fields[i - 3]);
  return { ppid: n(4), own: (n(14) + n(15)) / TICKS, reaped: (n(16) + n(17)) / TICKS };
}

/** Seconds of CPU one process used so far. */
export async function cpuSeconds(pid: number): Promise<number> {
  const s = await stat(pid);
  if (!s) throw new Error(`process ${pid} is gone`);
  return s.own;
}

/**
 * Seconds of CPU a process and all its descendants used so far, the exited ones included: a child
 * that exits moves from the live sum into its parent's reaped time, so the total only grows.
 */
export async function treeCpuSeconds(root: number): Promise<number> {
  const all = new Map<number, Stat>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = await stat(Number(name));
    if (s) all.set(Number(name), s);
  }
  if (!all.has(root)) throw new Error(`process ${root} is gone`);
  let total = 0;
  const visit = (pid: number): void => {
    const s = all.get(pid)!;
    total += s.own + s.reaped;
    for (const [child, c] of all) if (c.ppid === pid) visit(child);
  };
  visit(root);
  return total;
}
