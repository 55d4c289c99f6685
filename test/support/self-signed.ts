// A throwaway self-signed P-256 certificate made by openssl, for TLS and SNI tests: `<name>.key`
// and `<name>.crt` in `dir`, with CN = name, valid one day.
import { execFileSync } from 'node:child_process';
import path from 'node:path';

export function selfSigned(dir: string, name: string): { key: string; cert: string } {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.crt`);
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'],
      ...['-subj', `/CN=${name}`, '-keyout', key, '-out', cert],
    ],
    { stdio: 'ignore' },
  );
  return { key, cert };
}
