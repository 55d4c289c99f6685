// "Sign this and give it back" (seed 003): a logged-in submission client sends to the signing
// address; the message is DKIM-signed with the organisation key (config `dkim`) and returned
// to the sender's own mailbox as a new spool entry, instead of being sent on.

import { createReadStream } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { type DkimSigner, loadDkimSigner } from '../mail/dkim-signer.js';
import type { Spool, SpoolDraft } from '../spool/spool.js';

/** The local part of the signing address; its domain is config.hostname. */
export const signLocalPart = 'mailbridge-sign';

export function signAddress(hostname: string): string {
  return `${signLocalPart}@${hostname.toLowerCase()}`;
}

export interface SignBack {
  /** A new draft holding the signed bytes; the original draft is discarded. */
  sign(draft: SpoolDraft): Promise<SpoolDraft>;
}

export async function loadSignBack(
  config: Pick<Config, 'dkim'>,
  spool: Pick<Spool, 'draft' | 'tmpDir'>,
): Promise<SignBack | undefined> {
  if (!config.dkim) return undefined;
  // its own cache folder, inside this instance's tmp/: loadDkimSigner empties it at start-up
  const signer: DkimSigner = await loadDkimSigner(config.dkim, path.join(spool.tmpDir, 'sign-back-cache'));
  return {
    async sign(draft) {
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
