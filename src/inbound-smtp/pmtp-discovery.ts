// Does a domain speak PMTP? Its discovery record is a TXT at `_pmtp.<domain>` starting with
// `v=PMTP1`. "No such record" means plain SMTP; a DNS failure is a temporary 451, never a guess.

import { MailbridgeError } from '../codes.js';
import { isNoData, type MailResolver } from '../dns/resolver.js';

export async function speaksPmtp(resolver: Pick<MailResolver, 'resolveTxt'>, domain: string): Promise<boolean> {
  let records: string[][];
  try {
    records = await resolver.resolveTxt(`_pmtp.${domain}`);
  } catch (err) {
    if (isNoData(err)) return false;
    throw new MailbridgeError('route_lookup_failed', undefined, { cause: err });
  }
  return records.some((strings) => /^v=PMTP1(;|\s|$)/.test(strings.join('')));
}
