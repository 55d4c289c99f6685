// `mailbridge passwd`: hashes a password for `smtp.accounts[].password_hash` (scrypt, the format
// the config accepts), or with --verify checks one against a hash (ours or a Dovecot scheme).
// The password is read from standard input: typed twice without echo on a terminal, else one line.

import { hashPassword, hashProblem, verifyPassword } from '../config/password-hash.js';
import { type Command, exitCode, parseOptions } from './command.js';

const help = [
  'Usage: mailbridge passwd [--verify HASH]',
  '',
  'Reads a password from standard input and prints its hash for smtp.accounts[].password_hash:',
  'scrypt$N$r$p$salt$hash (N=32768, r=8, p=1). On a terminal it asks twice without echo;',
  'otherwise it reads the first line (so a password may be piped in, never put in argv).',
  '',
  '--verify HASH  check the password against HASH instead: exit 0 when it matches, 1 when not.',
  '               HASH may be ours or a Dovecot {SHA512-CRYPT}, {SHA256-CRYPT}, {SSHA512} or {SSHA256} hash.',
  '',
  'Example: printf "%s\\n" "$PASSWORD" | mailbridge passwd',
].join('\n');

/** Longest password read: more is no password, and scrypt would hash it anyway. */
const maxPasswordBytes = 4096;

export const passwdCommand: Command = {
  summary: 'hash a password for smtp.accounts (or --verify one against a hash)',
  help,
  async run(argv, { stdin, stdout, stderr }) {
    let values;
    try {
      ({ values } = parseOptions(argv, { verify: { type: 'string' } }));
    } catch (err) {
      stderr.write(`mailbridge passwd: ${err instanceof Error ? err.message : String(err)}\n\n${help}\n`);
      return exitCode.usage;
    }
    if (!stdin) {
      stderr.write('mailbridge passwd: no standard input to read the password from\n');
      return exitCode.usage;
    }
    const terminal = isTerminal(stdin);
    const lines = terminal ? promptedLines(stdin, stderr) : pipedLines(stdin);
    try {
      const password = await lines.next('Password: ');
      if (password === undefined || password === '') {
        stderr.write('mailbridge passwd: empty password\n');
        return exitCode.dataError;
      }
      if (values.verify !== undefined) {
        const problem = hashProblem(values.verify);
        if (problem) {
          stderr.write(`mailbridge passwd: ${problem}\n`);
          return exitCode.dataError;
        }
        const ok = await verifyPassword(password, values.verify);
        stdout.write(ok ? 'match\n' : 'no match\n');
        return ok ? exitCode.ok : 1;
      }
      if (terminal && (await lines.next('Again: ')) !== password) {
        stderr.write('mailbridge passwd: the passwords differ\n');
        return exitCode.dataError;
      }
      stdout.write(`${await hashPassword(password)}\n`);
      return exitCode.ok;
    } finally {
      lines.close();
    }
  },
};

interface LineSource {
  next(prompt: string): Promise<string | undefined>;
  close(): void;
}

type TerminalInput = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => void };

function isTerminal(stdin: NodeJS.ReadableStream): boolean {
  return (stdin as TerminalInput).isTTY === true && typeof (stdin as TerminalInput).setRawMode === 'function';
}

/** The first line of a pipe or file, without its line ending; bounded in size. */
function pipedLines(stdin: NodeJS.ReadableStream): LineSource {
  return {
    async next() {
      let text = '';
      for await (const chunk of stdin) {
        text += chunk.toString();
        const end = text.search(/\r?\n/);
        if (end >= 0) return text.slice(0, end);
        if (text.length > maxPasswordBytes) return undefined;
      }
      return text;
    },
    close() {},
  };
}

/** Keystrokes in raw mode, so nothing is echoed; Enter ends a line, Ctrl-C or Ctrl-D gives up. */
function promptedLines(stdin: NodeJS.ReadableStream, stderr: NodeJS.WritableStream): LineSource {
  const input = stdin as TerminalInput;
  input.setRawMode?.(true);
  return {
    next(prompt) {
      stderr.write(prompt);
      return new Promise((resolve) => {
        let typed = '';
        const onData = (chunk: Buffer | string): void => {
          for (const char of chunk.toString()) {
            if (char === '\r' || char === '\n' || char === '\u0003' || char === '\u0004') {
              input.off('data', onData);
              input.pause();
              stderr.write('\n');
              return resolve(char === '\r' || char === '\n' ? typed : undefined);
            }
            if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1);
            else if (typed.length < maxPasswordBytes) typed += char;
          }
        };
        input.on('data', onData);
        input.resume();
      });
    },
    close() {
      input.setRawMode?.(false);
      input.pause();
    },
  };
}
