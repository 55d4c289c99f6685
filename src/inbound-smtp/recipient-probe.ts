// Asks the downstream Postfix or LMTP server whether it would take a recipient, like Postfix's
// verify(8) probe: greeting, EHLO/LHLO, MAIL FROM:<>, RCPT TO, QUIT, no message ever sent.
// 2xx means yes; 550/551/553 or an enhanced 5.1.x means no; anything else is "could not tell".

import { connect } from 'node:net';
import type { LookupAnswer } from './dovecot-userdb.js';

export interface ProbeTarget {
  readonly host: string;
  readonly port: number;
  readonly protocol: 'smtp' | 'lmtp';
  /** our name in EHLO/LHLO */
  readonly hostname: string;
  readonly timeoutMs: number;
}

/** A reply line is at most 512 octets (RFC 5321 4.5.3.1.5); more lines than this is no honest server. */
const maxReplyBytes = 64 * 1024;

interface Reply {
  readonly code: number;
  readonly text: string;
}

export function probeRecipient(address: string, target: ProbeTarget): Promise<LookupAnswer> {
  // an address the server could read as two commands is never sent
  if (/[\r\n<>]/.test(address)) return Promise.resolve('unknown');
  return new Promise((resolve) => {
    const socket = connect(target.port, target.host);
    let buffered = '';
    let step = 0;
    let answered = false;
    // the answer goes back at once; the connection winds down on its own (or at the timeout)
    const finish = (result: LookupAnswer): void => {
      answered = true;
      resolve(result);
      // polite: the server logs a clean QUIT, not a lost connection
      if (!socket.destroyed) socket.end('QUIT\r\n');
    };
    const timer = setTimeout(() => socket.destroy(), target.timeoutMs);
    socket.setEncoding('utf8');
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      // closed, refused or timed out before an answer: could not tell
      resolve('unavailable');
    });
    const commands = [
      `${target.protocol === 'lmtp' ? 'LHLO' : 'EHLO'} ${target.hostname}`,
      'MAIL FROM:<>',
      `RCPT TO:<${address}>`,
    ];
    const onReply = (reply: Reply): void => {
      if (step < commands.length) {
        if (reply.code < 200 || reply.code > 299) return finish('unavailable');
        socket.write(`${commands[step++]}\r\n`);
        return;
      }
      finish(rcptAnswer(reply));
    };
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > maxReplyBytes) return socket.destroy();
      for (;;) {
        const reply = takeReply(buffered);
        if (!reply) return;
        buffered = buffered.slice(reply.consumed);
        if (answered) return;
        onReply(reply);
      }
    });
  });
}

/** What a RCPT reply says about the recipient. */
export function rcptAnswer(reply: Reply): LookupAnswer {
  if (reply.code >= 200 && reply.code <= 299) return 'exists';
  if ([550, 551, 553].includes(reply.code) || /^5\.1\.\d{1,3}\b/.test(reply.text)) return 'unknown';
  return 'unavailable';
}

/** One complete (possibly multi-line) reply at the start of `input`, or undefined until it has arrived. */
function takeReply(input: string): (Reply & { consumed: number }) | undefined {
  let offset = 0;
  for (;;) {
    const end = input.indexOf('\n', offset);
    if (end < 0) return undefined;
    const line = input.slice(offset, end).replace(/\r$/, '');
    offset = end + 1;
    const match = /^(\d{3})([ -])(.*)$/.exec(line);
    if (!match) return { code: 0, text: line, consumed: offset };
    if (match[2] === ' ') return { code: Number(match[1]), text: match[3] ?? '', consumed: offset };
  }
}
