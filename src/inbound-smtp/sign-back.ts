// "Sign this and give it back" (seed 003): a logged-in submission client sends to the signing
// address; the message is DKIM-signed with its From: domain's key (`dkim` or domains.settings) and
// returned to the sender's own mailbox as a new spool entry, instead of being sent on.

import { createReadStream } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { loadDomainSigners } from '../mail/domain-signers.js';
import type { Spool, SpoolDraft } from '../spool/spool.js';
import { authorDomains } from '../translate/author-domains.js';

/** The local part of the signing address; its domain is config.hostname. */
export const signLocalPart = 'mailbridge-sign';

export function signAddress(hostname: string): string {
  return `${signLocalPart}@${hostname.toLowerCase()}`;
}

export interface SignBack {
  /**
   * A new draft holding the signed bytes, the original discarded; undefined (the draft kept) when
   * no key aligns with the From: domain, since a stranger's d= would fail DMARC anyway.
   */
  sign(draft: SpoolDraft): Promise<SpoolDraft | undefined>;
}

export async function loadSignBack(
  config: Pick<Config, 'dkim' | 'domains'>,
  spool: Pick<Spool, 'draft' | 'tmpDir'>,
): Promise<SignBack | undefined> {
  // its own cache folder, inside this instance's tmp/: loadDkimSigner empties it at start-up
  const signers = await loadDomainSigners(config, path.join(spool.tmpDir, 'sign-back-cache'));
  if (!signers) return undefined;
  return {
    async sign(draft) {
      const signer = signers.signerFor(await authorDomains(createReadStream(draft.bodyPath)));
      if (!signer) return undefined;
      const signed = await spool.draft();
      try {
        await signed.writeBody(signer.sign(createReadStream(draft.bodyPath)));
      } catch (err) {
        await signed.discard().catch(() => undefined);
        throw err;
      }
      await draft.discard();
      return signed;
    },
  };
}
