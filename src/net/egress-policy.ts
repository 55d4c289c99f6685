// The egress policy config gives (`egress.allow_hosts`, `egress.extra_ca_files`), built once at
// start: the extra CA files are read here, so a missing one fails the start naming its key.
import { readFileSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import type { EgressPolicy } from './egress-fetch.js';

export function egressPolicyOf(egress: Config['egress']): EgressPolicy {
  const extraCa = egress.extra_ca_files.map((file, i) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`egress.extra_ca_files[${i}] (${file}): ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  return { allowedHosts: new Set(egress.allow_hosts), ...(extraCa.length > 0 ? { extraCa } : {}) };
}
