// ARC sealing (RFC 8617) with the gateway's own key, when config has `arc`: after the checks
// passed, the spooled bytes get an ARC set carrying our Authentication-Results, so a later hop
// can trust our verdicts even if it breaks the sender's DKIM. The set is stored in the meta.

import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { type ARCSealOptions, sealMessage } from 'mailauth';
import type { Config } from '../config/schema.js';

export interface ArcSealer {
  /**
   * The three ARC header fields (CRLF-ended) to prepend, or '' when the incoming chain is broken:
   * a chain that failed validation is not extended (mailauth's rule, RFC 8617 5.1.2).
   * `results` is our whole Authentication-Results field; `chain` is mailauth's ARC result.
   */
  seal(bodyPath: string, results: string, chain: string): Promise<string>;
}

export async function loadArcSealer(arc: NonNullable<Config['arc']>): Promise<ArcSealer> {
  const privateKey = await readFile(arc.key_file);
  return {
    async seal(bodyPath, results, chain) {
      if (chain !== 'none' && chain !== 'pass') return '';
      // ARC-Authentication-Results carries our field's value, authserv-id first
      const authResults = results.replace(/^Authentication-Results:\s*/i, '').replace(/\r\n$/, '');
      const options = {
        signingDomain: arc.domain,
        selector: arc.selector,
        privateKey,
        authResults,
        cv: chain,
      } as ARCSealOptions;
      const input = createReadStream(bodyPath);
      try {
        return (await sealMessage(input, options)).toString('utf8');
      } finally {
        input.destroy();
      }
    },
  };
}
