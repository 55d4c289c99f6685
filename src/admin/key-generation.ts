// Key generation for a domain: its Ed25519 PMTP key and RSA-2048 DKIM key written to files
// (private ones 0600, never overwritten without `force`), and the DNS records that publish them.

import { generateKeyPairSync } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { formatPublishedRecord, txtRecord } from '../dns/zone-record.js';
import { discoveryName, formatDiscoveryRecord } from '../native/protocol/dns-discovery.js';
import { generateDomainKey } from '../native/protocol/domain-keys.js';

export interface GeneratedKeys {
  readonly files: readonly string[];
  readonly records: readonly string[];
  readonly pmtpKeyId: string;
}

export async function generateKeys(options: {
  domain: string;
  out: string;
  selector: string;
  endpoint: string;
  force: boolean;
}): Promise<GeneratedKeys> {
  const { domain, out, selector, endpoint, force } = options;
  const pmtp = generateDomainKey();
  const dkim = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const dkimPublicDer = dkim.publicKey.export({ format: 'der', type: 'spki' });

  await mkdir(out, { recursive: true, mode: 0o700 });
  const files: Array<[string, string, number]> = [
    [`${domain}.pmtp.key`, pmtp.privatePem, 0o600],
    [`${domain}.pmtp.pub`, pmtp.publicPem, 0o644],
    [`${domain}.dkim.key`, dkim.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), 0o600],
    [`${domain}.dkim.pub`, dkim.publicKey.export({ format: 'pem', type: 'spki' }).toString(), 0o644],
  ];
  const written: string[] = [];
  for (const [name, content, mode] of files) {
    const file = path.join(out, name);
    // 'wx' refuses to replace a key that may already be published
    await writeFile(file, content, { mode, flag: force ? 'w' : 'wx' });
    written.push(file);
  }
  const records = [
    formatPublishedRecord(
      txtRecord(discoveryName(domain), formatDiscoveryRecord({ endpoint, fingerprint: pmtp.keyId })),
    ),
    formatPublishedRecord(
      txtRecord(`${selector}._domainkey.${domain}`, `v=DKIM1; k=rsa; p=${dkimPublicDer.toString('base64')}`),
    ),
  ];
  return { files: written, records, pmtpKeyId: pmtp.keyId };
}
