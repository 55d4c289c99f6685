// Sends one message with Debian's swaks and returns its whole transcript, for asserting replies.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SwaksOptions {
  readonly server: string;
  readonly from: string;
  readonly to: string;
  readonly subject?: string;
  readonly auth?: { user: string; password: string };
  /** a file holding the whole message (headers and body), sent instead of swaks's own */
  readonly data?: string;
  /** the client address to connect from, e.g. 127.0.0.2 to stand for an outside client */
  readonly localInterface?: string;
  readonly ehlo?: string;
}

export async function sendWithSwaks(options: SwaksOptions): Promise<string> {
  const args = ['--server', options.server, '--from', options.from, '--to', options.to, '--timeout', '15'];
  if (options.subject !== undefined) args.push('--h-Subject', options.subject);
  if (options.data !== undefined) args.push('--data', options.data);
  if (options.localInterface !== undefined) args.push('--local-interface', options.localInterface);
  if (options.ehlo !== undefined) args.push('--ehlo', options.ehlo);
  if (options.auth)
    args.push('--auth', 'PLAIN', '--auth-user', options.auth.user, '--auth-password', options.auth.password);
  try {
    const { stdout } = await run('swaks', args);
    return stdout;
  } catch (err) {
    // swaks exits non-zero on a rejection; the transcript is still the answer
    return (err as { stdout?: string }).stdout ?? String(err);
  }
}
