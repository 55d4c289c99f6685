// Submission, end of DATA: every address in the spooled message's From: and Sender: fields must be
// one the login may use (mail/sender-grants.ts), or the message is refused with 550 5.7.1 before
// anything is queued. The envelope sender was checked at MAIL FROM (envelope-checks.ts).

import { createReadStream } from 'node:fs';
import addressparser from 'nodemailer/lib/addressparser';
import type { SenderPolicy } from '../policy/live-accounts.js';
import { parseHeaderSection, readHeaderSection } from '../translate/header-section.js';
import { replyError } from './reply-error.js';

const checkedFields = new Set(['from', 'sender']);

/** The first From:/Sender: address `login` does not own, as `Field: <address>`, or undefined. */
export async function unownedHeaderSender(
  bodyPath: string,
  maxHeaderBytes: number,
  grants: SenderPolicy,
  login: string,
): Promise<string | undefined> {
  // the listener already refused a longer section; the empty line needs its 4 bytes too
  const section = await readHeaderSection(createReadStream(bodyPath), maxHeaderBytes + 4);
  for (const { name, value } of parseHeaderSection(Buffer.from(section, 'utf8'))) {
    if (!checkedFields.has(name.toLowerCase())) continue;
    // an entry without "@" is no address anyone owns: refused, unless the login may use any sender
    for (const { address } of addressparser(value, { flatten: true })) {
      if (!grants.allowsInHeader(login, address)) return `${name}: <${address.replace(/[^\x21-\x7e]/g, '?')}>`;
    }
  }
  return undefined;
}

/** Throws the 550 5.7.1 reply naming the login and the field when a header sender is not owned. */
export async function checkHeaderSenders(
  bodyPath: string,
  maxHeaderBytes: number,
  grants: SenderPolicy,
  login: string,
): Promise<void> {
  const unowned = await unownedHeaderSender(bodyPath, maxHeaderBytes, grants, login);
  if (unowned) throw replyError('header_sender_not_owned', `login ${login} does not own ${unowned}`);
}
