// `mailbridge keys generate`: makes a domain's Ed25519 PMTP key and RSA-2048 DKIM key, writes them
// (private files 0600, never overwritten without --force) and prints the DNS records to publish.
// `keys list|rotate|revoke|forget` work on the running domain's key ring (key-ring.ts).

import { generateKeys } from '../admin/key-generation.js';
import { type Command, exitCode, loadCommandConfig, parseOptions, UsageError } from './command.js';
import { type KeyRingAction, keyRingHelp, parseKeyRingArgs, runKeyRing } from './key-ring.js';

const help = [
  'Usage: mailbridge keys generate --domain DOMAIN --out DIR [--selector S] [--endpoint URL] [--force]',
  keyRingHelp,
  '',
  '',
  'Writes DIR/DOMAIN.pmtp.key (Ed25519, PKCS#8 PEM) and DIR/DOMAIN.dkim.key (RSA-2048), with .pub',
  'files beside them, then prints the DNS records to publish, in zone-file syntax:',
  '  _pmtp.DOMAIN  TXT  "v=PMTP1; e=ENDPOINT; fp=ed25519:..."   PMTP discovery and key pin',
  '  S._domainkey.DOMAIN  TXT  "v=DKIM1; k=rsa; p=..."           DKIM public key',
  '',
  'Defaults: --selector mbYYYYMM, --endpoint https://pmtp.DOMAIN',
  'Example: mailbridge keys generate --domain example.org --out /etc/mailbridge/keys',
].join('\n');

export const keysCommand: Command = {
  summary: "generate a domain's PMTP and DKIM keys and print the DNS records; list, rotate, revoke PMTP keys",
  help,
  async run(argv, { env, stdout, stderr }) {
    const [action, ...rest] = argv;
    if (action !== 'generate') return runRingCommand(argv, { env, stdout, stderr });
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
      const result = await generateKeys({
        domain,
        out: values.out,
        selector,
        endpoint: values.endpoint ?? `https://pmtp.${domain}`,
        force: values.force ?? false,
      });
      stdout.write(`; mailbridge keys for ${domain} (PMTP key ${result.pmtpKeyId})\n`);
      stdout.write(`; written: ${result.files.join(', ')}\n`);
      for (const record of result.records) stdout.write(`${record}\n`);
      return exitCode.ok;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      stderr.write(
        `mailbridge keys: ${code === 'EEXIST' ? `${(err as NodeJS.ErrnoException).path} exists; pass --force to replace it` : String(err)}\n`,
      );
      return code === 'EEXIST' ? exitCode.dataError : exitCode.ioError;
    }
  },
};

/** keys list|rotate|revoke|forget -c FILE: usage mistakes exit 64 before the config is read. */
async function runRingCommand(argv: string[], { env, stdout, stderr }: Parameters<Command['run']>[1]): Promise<number> {
  const at = argv.findIndex((a) => a === '-c' || a === '--config');
  const file = at >= 0 ? argv[at + 1] : undefined;
  const rest = argv.filter((_, i) => at < 0 || (i !== at && i !== at + 1));
  let request: KeyRingAction;
  try {
    request = parseKeyRingArgs(rest);
    if (file === undefined) throw new UsageError('-c FILE is required');
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    stderr.write(`mailbridge keys: ${err.message}\n\n${help}\n`);
    return exitCode.usage;
  }
  const config = await loadCommandConfig(file, { env, stderr });
  if (!config) return exitCode.configError;
  try {
    return await runKeyRing(config, request, stdout);
  } catch (err) {
    stderr.write(`mailbridge keys: ${err instanceof Error ? err.message : String(err)}\n`);
    return request.action === 'forget-peer' ? exitCode.unavailable : exitCode.ioError;
  }
}
