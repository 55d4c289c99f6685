// Real SMTP peers for tests: swaks, Postfix's smtp-source and Python's smtplib, run as child
// processes against loopback listeners. Each returns its exit code and full transcript.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface PeerRun {
  readonly code: number;
  readonly out: string;
}

function run(command: string, args: readonly string[], timeoutMs = 20_000): Promise<PeerRun> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, encoding: 'latin1' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

/** swaks sending FILE bytes untouched (`--no-data-fixup`); swaks adds one CRLF, so end the data with CRLF and "." */
export async function swaksRaw(
  port: number,
  from: string,
  to: string,
  data: string | Buffer,
  dir: string,
  extra: readonly string[] = [],
): Promise<PeerRun> {
  const file = path.join(dir, `swaks-${Math.random().toString(36).slice(2)}.eml`);
  await writeFile(file, data);
  return run('swaks', [
    '--server',
    `127.0.0.1:${port}`,
    '--from',
    from,
    '--to',
    to,
    '--helo',
    'client.test',
    '--data',
    file,
    '--no-data-fixup',
    ...extra,
  ]);
}

/** The server's replies in a swaks transcript, e.g. `250 2.0.0 Ok: queued as ...`. */
export function swaksReplies(out: string): string[] {
  return out
    .split('\n')
    .filter((l) => /^ *<[-*~]+ /.test(l))
    .map((l) => l.replace(/^ *<[-*~]+ +/, '').trim());
}

export function smtpSource(port: number, args: readonly string[]): Promise<PeerRun> {
  return run('/usr/sbin/smtp-source', [...args, `127.0.0.1:${port}`], 60_000);
}

/** Runs a Python snippet; `PORT` in the code is replaced by the port. */
export function python(code: string, port: number): Promise<PeerRun> {
  return run('python3', ['-c', code.replaceAll('PORT', String(port))]);
}
