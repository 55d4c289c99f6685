// Sends one message with Debian's swaks and returns its whole transcript, for asserting replies.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function sendWithSwaks(options: { server: string; from: string; to: string; subject: string; auth?: { user: string; password: string } }): Promise<string> {
  const args = ['--server', options.server, '--from', options.from, '--to', options.to, '--h-Subject', options.subject, '--timeout', '15'];
  if (options.auth) args.push('--auth', 'PLAIN', '--auth-user', options.auth.user, '--auth-password', options.auth.password);
  try {
    const { stdout } = await run('swaks', args);
    return stdout;
  } catch (err) {
    // swaks exits non-zero on a rejection; the transcript is still the answer
    return (err as { stdout?: string }).stdout ?? String(err);
  }
}
