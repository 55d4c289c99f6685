// A throw-away RSA DKIM key: the PEM file for the signer and the TXT record a verifier looks up.

import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { DNSResolver } from 'mailauth';

export interface TestDkimKey {
  readonly keyFile: string;
  /** mailauth's resolver, answering `<selector>._domainkey.<domain>` TXT only */
  readonly resolver: DNSResolver;
}

export async function makeDkimKey(dir: string, domain: string, selector: string): Promise<TestDkimKey> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyFile = path.join(dir, `${domain}.${selector}.dkim.pem`);
  await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const record = `v=DKIM1; k=rsa; p=${publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`;
  const name = `${selector}._domainkey.${domain}`;
  const resolver: DNSResolver = async (query, rrtype) => {
    if (query.toLowerCase() === name && rrtype.toUpperCase() === 'TXT') return [[record]];
    throw Object.assign(new Error(`query ${rrtype} ENOTFOUND ${query}`), { code: 'ENOTFOUND' });
  };
  return { keyFile, resolver };
}
