// `mailbridge tokens issue|list|revoke -c FILE`: pre-approved sender tokens of our PMTP domains
// (pmtp.domain, or with --domain one of domains.settings that has its own PMTP key).
// issue prints the token to hand to the sender; uses are counted atomically by the server and a
// revoked token stops working at once. Exit 0 ok, 64 usage, 65 unknown token, 69 Redis down.

import type { Config } from '../config/schema.js';
import { type LocalKeyRing, loadDomainKeyRing, loadKeyRing, ringConfigOf } from '../native/keys/local-keys.js';
import { isAddress, isDomain } from '../native/protocol/address.js';
import { SenderTokenStore } from '../native/state/sender-tokens.js';
import { connectRedis } from '../queue/redis-connection.js';
import { type Command, exitCode, loadCommandConfig, parseDuration, parseOptions, UsageError } from './command.js';

const help = [
  'Usage: mailbridge tokens issue --recipient ADDR --scope ADDR|DOMAIN [--expires 30d] [--max-uses N] [--domain D] -c FILE',
  '       mailbridge tokens list [--json] -c FILE',
  '       mailbridge tokens revoke TOKEN_ID -c FILE',
  '',
  'A token lets one sender (address) or every sender of a domain reach RECIPIENT without a',
  'first-contact challenge, until it expires or has been used N times. The token is signed by the',
  "recipient's domain: pmtp.domain, or --domain D for another of ours (domains.settings.D.pmtp).",
  'Example: mailbridge tokens issue --recipient bob@example.org --scope orders@shop.example --max-uses 3 -c mb.yaml',
].join('\n');

type TokensAction =
  | {
      readonly action: 'issue';
      readonly recipient: string;
      readonly scope: string;
      readonly expires: string;
      readonly maxUses?: number;
      /** which of our domains issues it; default pmtp.domain */
      readonly domain?: string;
    }
  | { readonly action: 'list'; readonly json: boolean }
  | { readonly action: 'revoke'; readonly tokenId: string };

/** Reads the action and its flags; a usage mistake is reported before any connection is made. */
export function parseTokensArgs(argv: string[]): TokensAction {
  const [action, ...rest] = argv;
  if (action === 'issue') {
    const { values } = parseOptions(rest, {
      recipient: { type: 'string' },
      scope: { type: 'string' },
      expires: { type: 'string', default: '30d' },
      'max-uses': { type: 'string' },
      domain: { type: 'string' },
    });
    parseDuration(values.expires ?? '30d');
    const maxUses = values['max-uses'] === undefined ? undefined : Number(values['max-uses']);
    if (maxUses !== undefined && !(Number.isSafeInteger(maxUses) && maxUses > 0))
      throw new UsageError('--max-uses must be a positive integer');
    return {
      action,
      recipient: values.recipient ?? '',
      scope: values.scope ?? '',
      expires: values.expires ?? '30d',
      ...(maxUses ? { maxUses } : {}),
      ...(values.domain ? { domain: values.domain.toLowerCase() } : {}),
    };
  }
  if (action === 'list') {
    const { values } = parseOptions(rest, { json: { type: 'boolean', default: false } });
    return { action, json: values.json ?? false };
  }
  if (action === 'revoke') {
    const { positionals } = parseOptions(rest, {}, true);
    if (positionals.length !== 1) throw new UsageError('revoke takes one TOKEN_ID');
    return { action, tokenId: positionals[0]! };
  }
  throw new UsageError(`unknown action ${action ?? ''}`);
}

export async function runTokens(
  config: Config,
  argv: string[],
  out: NodeJS.WritableStream,
  nowS = Math.floor(Date.now() / 1000),
): Promise<number> {
  const request = parseTokensArgs(argv);
  const redis = connectRedis(config.redis, { maxRetriesPerRequest: 1, connectTimeout: 2000, lazyConnect: true });
  try {
    await redis.connect();
    const store = new SenderTokenStore(redis, config.redis.prefix);
    switch (request.action) {
      case 'issue': {
        const keys = await issuerKeys(config, request.domain);
        const { recipient, scope } = request;
        if (!isAddress(recipient) || !recipient.toLowerCase().endsWith(`@${keys.domain}`))
          throw new UsageError(`--recipient must be an address in ${keys.domain}`);
        const scoped = isAddress(scope)
          ? { address: scope }
          : isDomain(scope.toLowerCase())
            ? { domain: scope.toLowerCase() }
            : undefined;
        if (!scoped) throw new UsageError('--scope must be an address or a domain');
        const issued = await store.issue(
          {
            issuer: keys.domain,
            recipient,
            scope: scoped,
            expires: nowS + parseDuration(request.expires),
            ...(request.maxUses ? { max_uses: request.maxUses } : {}),
          },
          keys.current.privateKey,
          nowS,
        );
        out.write(
          `token_id ${issued.tokenId}\nexpires ${new Date(issued.expires * 1000).toISOString()}\n${issued.token}\n`,
        );
        return exitCode.ok;
      }
      case 'list': {
        const tokens = await store.list();
        if (request.json)
          out.write(
            `${JSON.stringify(
              tokens.map(({ token: _t, ...t }) => t),
              null,
              2,
            )}\n`,
          );
        else
          for (const t of tokens)
            out.write(
              `${t.tokenId}  ${t.recipient}  ${'address' in t.scope ? t.scope.address : `*@${t.scope.domain}`}  uses ${t.uses}/${t.maxUses ?? '∞'}  expires ${new Date(t.expires * 1000).toISOString()}${t.revoked ? '  REVOKED' : ''}\n`,
            );
        return exitCode.ok;
      }
      case 'revoke': {
        const known = await store.revoke(request.tokenId);
        out.write(`${request.tokenId} revoked${known ? '' : ' (unknown id; refused anyway if it appears)'}\n`);
        return known ? exitCode.ok : exitCode.dataError;
      }
    }
  } finally {
    redis.disconnect();
  }
}

/** The key ring of the issuing domain: pmtp.domain's, or that of another of ours with its own PMTP key. */
async function issuerKeys(config: Config, domain: string | undefined): Promise<LocalKeyRing> {
  if (domain === undefined || domain === config.pmtp.domain) return loadKeyRing(config);
  if (!config.domains.settings[domain]?.pmtp)
    throw new UsageError(`--domain ${domain} is not one of ours with a PMTP key (domains.settings.${domain}.pmtp)`);
  const { paths, timing } = ringConfigOf(config, domain);
  return loadDomainKeyRing(domain, paths, { ...timing, nowS: () => Math.floor(Date.now() / 1000) });
}

export const tokensCommand: Command = {
  summary: 'issue, list or revoke pre-approved PMTP sender tokens',
  help,
  async run(argv, { env, stdout, stderr }) {
    const at = argv.findIndex((a) => a === '-c' || a === '--config');
    const file = at >= 0 ? argv[at + 1] : undefined;
    if (file === undefined) {
      stderr.write(`${help}\n`);
      return exitCode.usage;
    }
    const rest = argv.filter((_, i) => i !== at && i !== at + 1);
    try {
      parseTokensArgs(rest);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      stderr.write(`mailbridge tokens: ${err.message}\n\n${help}\n`);
      return exitCode.usage;
    }
    const config = await loadCommandConfig(file, { env, stderr });
    if (!config) return exitCode.configError;
    try {
      return await runTokens(config, rest, stdout);
    } catch (err) {
      if (err instanceof UsageError) {
        stderr.write(`mailbridge tokens: ${err.message}\n\n${help}\n`);
        return exitCode.usage;
      }
      stderr.write(`mailbridge tokens: ${err instanceof Error ? err.message : String(err)}\n`);
      return exitCode.unavailable;
    }
  },
};
