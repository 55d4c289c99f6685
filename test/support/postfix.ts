// A private Postfix for the e2e tests: bench/private-postfix.ts (shared with the benchmarks)
// on a free loopback port, delivering every recipient of `domain` into one Maildir (or one per
// listed user) behind STARTTLS. Recipes add main.cf and master.cf lines and lookup tables.

import { type PrivatePostfix, type PrivatePostfixOptions, startPrivatePostfix } from '../../bench/private-postfix.js';
import { freePort } from './smtp-sink.js';

export type { PrivatePostfix };
export type PostfixOptions = Omit<PrivatePostfixOptions, 'port' | 'discard' | 'maxSessions'> & {
  readonly domain: string;
};

export async function startPostfix(options: PostfixOptions): Promise<PrivatePostfix> {
  return startPrivatePostfix({ ...options, port: await freePort() });
}
