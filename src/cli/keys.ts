// `mailbridge keys generate`: makes a domain's Ed25519 PMTP key and RSA-2048 DKIM key, writes them
// (private files 0600, never overwritten without --force) and prints the DNS records to publish.

import { generateKeyPairSync } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { formatPublishedRecord, txtRecord } from '../dns/zone-record.js';
import { discoveryName, formatDiscoveryRecord } from '../native/dns-discovery.js';
import { generateDomainKey } from '../native/domain-keys.js';
import { exitCode, parseOptions, UsageError, type Command } from './command.js';

const help = [
  'Usage: mailbridge keys generate --domain DOMAIN --out DIR [--selector S] [--endpoint URL] [--force]',
  '',
  'Writes DIR/DOMAIN.pmtp.key (Ed25519, PKCS#8 PEM) and DIR/DOMAIN.dkim.key (RSA-2048), with .pub',
  'files beside them, then prints the DNS records to publish, in zone-file syntax:',
  '  _pmtp.DOMAIN  TXT  "v=PMTP1; e=ENDPOINT; fp=ed25519:..."   PMTP discovery and key pin',
  '  S._domainkey.DOMAIN  TXT  "v=DKIM1; k=rsa; p=..."           DKIM public key',
  '',
  'Defaults: --selector mbYYYYMM, --endpoint https://pmtp.DOMAIN',
  'Example: mailbridge keys generate --domain example.org --out /etc/mailbridge/keys',
].join('\n');

export interface GeneratedKeys {
  readonly files: readonly string[];
  readonly records: readonly string[];
  readonly pmtpKeyId: string;
}

export async function generateKeys(options: { domain: string; out: string; selector: string; endpoint: string; force: boolean }): Promise<GeneratedKeys> {
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
    formatPublishedRecord(txtRecord(discoveryName(domain), formatDiscoveryRecord({ endpoint, fingerprint: pmtp.keyId }))),
    formatPublishedRecord(txtRecord(`${selector}._domainkey.${domain}`, `v=DKIM1; k=rsa; p=${dkimPublicDer.toString('base64')}`)),
  ];
  return { files: written, records, pmtpKeyId: pmtp.keyId };
}

export const keysCommand: Command = {
  summary: 'generate a domain\'s PMTP and DKIM keys and print the DNS records',
  help,
  async run(argv, { stdout, stderr }) {
    const [action, ...rest] = argv;
    if (action !== 'generate') {
      stderr.write(`${help}\n`);
      return exitCode.usage;
    }
    let values;
    try {
      ({ values } = parseOptions(rest, {
        domain: { type: 'string' },
        out: { type: 'string' },
        selector: { type: 'string' },
        endpoint: { type: 'string' },
        force: { type: 'boolean', default: false },
      }));
      if (!values.domain || !values.out) throw new UsageError('--domain and --out are required');
    } catch (err) {
      stderr.write(`mailbridge keys: ${err instanceof Error ? err.message : String(err)}\n\n${help}\n`);
      return exitCode.usage;
    }
    const domain = values.domain.toLowerCase().replace(/\.$/, '');
    const now = new Date();
    const selector = values.selector ?? `mb${now.getUTCFullYear()}${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
    try {
      const result = await generateKeys({ domain, out: values.out, selector, endpoint: values.endpoint ?? `https://pmtp.${domain}`, force: values.force ?? false });
      stdout.write(`; mailbridge keys for ${domain} (PMTP key ${result.pmtpKeyId})\n`);
      stdout.write(`; written: ${result.files.join(', ')}\n`);
      for (const record of result.records) stdout.write(`${record}\n`);
      return exitCode.ok;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      stderr.write(`mailbridge keys: ${code === 'EEXIST' ? `${(err as NodeJS.ErrnoException).path} exists; pass --force to replace it` : String(err)}\n`);
      return code === 'EEXIST' ? exitCode.dataError : exitCode.ioError;
    }
  },
};
