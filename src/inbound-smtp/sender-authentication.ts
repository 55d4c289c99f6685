// Runs SPF, DKIM, ARC and DMARC (mailauth) over the spooled draft file, so the checks see
// exactly the bytes that will be relayed. Client IP, HELO and MAIL FROM come from the session
// (XFORWARD's values only from a trusted relay-in client); DNS goes through the MailResolver.

import { createReadStream } from 'node:fs';
import { type AuthenticateResult, authenticate } from 'mailauth';
import { MailbridgeError } from '../codes.js';
import type { MailResolver } from '../dns/resolver.js';
import { readHeaderSection } from '../translate/header-section.js';

export interface SenderFacts {
  readonly ip: string;
  readonly helo: string;
  /** MAIL FROM, '' for the null sender */
  readonly mailFrom: string;
  /** our host name, the authserv-id of Authentication-Results */
  readonly mta: string;
}

const checkTimeoutMs = 30_000;

/** From fields in the header section: a line starting `From:` that is not a continuation. */
async function countFromFields(bodyPath: string): Promise<number> {
  const section = await readHeaderSection(createReadStream(bodyPath), 1024 * 1024);
  return section.split('\r\n').filter((line) => /^from[ \t]*:/i.test(line)).length;
}

export async function authenticateSender(
  bodyPath: string,
  facts: SenderFacts,
  resolver: MailResolver,
): Promise<AuthenticateResult & { fromFields: number }> {
  const input = createReadStream(bodyPath);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new MailbridgeError('auth_temp_error', 'Sender checks timed out')), checkTimeoutMs);
  });
  try {
    const [result, fromFields] = await Promise.race([
      Promise.all([
        authenticate(input, {
          ip: facts.ip,
          helo: facts.helo || undefined,
          // SPF for the null sender is checked against the HELO name (RFC 7208 2.4)
          sender: facts.mailFrom || undefined,
          mta: facts.mta,
          resolver: (name: string, rrtype: string) => resolver.resolve(name, rrtype) as Promise<string[][] | string[]>,
          disableBimi: true,
          trustReceived: false,
        }),
        countFromFields(bodyPath),
      ]),
      timeout,
    ]);
    return Object.assign(result, { fromFields });
  } catch (err) {
    if (err instanceof MailbridgeError) throw err;
    throw new MailbridgeError('auth_temp_error', undefined, { cause: err });
  } finally {
    clearTimeout(timer);
    input.destroy();
  }
}
