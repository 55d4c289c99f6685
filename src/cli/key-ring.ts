// `mailbridge keys list|rotate|revoke|forget -c FILE`: the operator's view of our PMTP key ring. Each
// change is a transition of key-ring-state written whole to the ring file; the running gateway reads
// it within seconds. The first change turns `pmtp.key_file` (and retired keys) into the ring file.
import type { Config } from '../config/schema.js';
import { type RingFile, readRingFile, writeRingFile } from '../native/keys/key-ring-file.js';
import { forget, keyState, publishedAt, type RingResult, revoke, rotate } from '../native/keys/key-ring-state.js';
import { ringConfigOf, seedFromConfig } from '../native/keys/local-keys.js';
import { formatDiscoveryRecord } from '../native/protocol/dns-discovery.js';
import { generateDomainKey } from '../native/protocol/domain-keys.js';
import { RedisPeerTrust } from '../native/state/peer-trust.js';
import { connectRedis } from '../queue/redis-connection.js';
import { exitCode, parseDuration, parseOptions, UsageError } from './command.js';

export type KeyRingAction = (
  | { readonly action: 'list'; readonly json: boolean }
  | { readonly action: 'rotate'; readonly overlapS?: number }
  | { readonly action: 'revoke'; readonly keyId: string }
  | { readonly action: 'forget'; readonly keyId: string }
  | { readonly action: 'forget-peer'; readonly domain: string }
) & {
  /** which of our domains' ring (domains.settings); default pmtp.domain */
  readonly own?: string;
};

export const keyRingHelp = [
  '       mailbridge keys list [--json] [--domain D] -c FILE',
  '       mailbridge keys rotate [--overlap 1d] [--domain D] -c FILE',
  '       mailbridge keys revoke KEY_ID [--domain D] -c FILE',
  '       mailbridge keys forget KEY_ID [--domain D] -c FILE',
  '       mailbridge keys forget --peer DOMAIN -c FILE',
  '',
  'rotate publishes a new key now, signs requests with it after the overlap (pmtp.key_overlap_s)',
  'and retires the current key one overlap later (docs/protocol.md §8.3). revoke withdraws a key at',
  'once (peers refuse it: key_revoked). forget drops a retired or revoked key from the ring, or with',
  '--peer the key set we trusted for a peer domain, so it is discovered afresh. --domain picks',
  'another of our domains (domains.settings.D.pmtp) instead of pmtp.domain.',
].join('\n');

export function parseKeyRingArgs(argv: string[]): KeyRingAction {
  const [action, ...args] = argv;
  const at = args.indexOf('--domain');
  if (at >= 0 && (args[at + 1] === undefined || args[at + 1]?.startsWith('-')))
    throw new UsageError('--domain needs a domain');
  const own = at >= 0 ? args[at + 1]?.toLowerCase() : undefined;
  const rest = at >= 0 ? [...args.slice(0, at), ...args.slice(at + 2)] : args;
  const parsed = parseAction(action, rest);
  if (own !== undefined && parsed.action === 'forget-peer') throw new UsageError('--domain is not an option of --peer');
  return own === undefined ? parsed : { ...parsed, own };
}

function parseAction(action: string | undefined, rest: string[]): KeyRingAction {
  if (action === 'list') {
    const { values } = parseOptions(rest, { json: { type: 'boolean', default: false } });
    return { action, json: values.json ?? false };
  }
  if (action === 'rotate') {
    const { values } = parseOptions(rest, { overlap: { type: 'string' } });
    return values.overlap === undefined ? { action } : { action, overlapS: parseDuration(values.overlap) };
  }
  if (action === 'revoke' || action === 'forget') {
    const { values, positionals } = parseOptions(rest, { peer: { type: 'string' } }, true);
    if (action === 'forget' && values.peer !== undefined) {
      if (positionals.length > 0) throw new UsageError('forget takes KEY_ID or --peer DOMAIN, not both');
      return { action: 'forget-peer', domain: values.peer.toLowerCase() };
    }
    if (values.peer !== undefined) throw new UsageError('--peer is an option of forget');
    if (positionals.length !== 1 || !/^ed25519:[A-Za-z0-9_-]{43}$/.test(positionals[0] ?? ''))
      throw new UsageError(`${action} takes one KEY_ID (ed25519:...)`);
    return { action, keyId: positionals[0]! };
  }
  throw new UsageError(`unknown action ${action ?? ''}`);
}

/** The ring to change: the ring file, else the one key_file and retired_keys make. */
async function ringOf(config: Config, domain: string, file: string): Promise<RingFile> {
  const existing = await readRingFile(file);
  if (existing) {
    if (existing.domain !== domain) throw new Error(`${file}: key ring is for ${existing.domain}, not ${domain}`);
    return existing;
  }
  const seed = await seedFromConfig(ringConfigOf(config, domain).paths);
  if (!seed) throw new Error(`${file} does not exist and pmtp.key_file is not set: nothing to start from`);
  return {
    v: 1,
    domain,
    keys: seed.map((k) => ({
      ...k.record,
      private_key: k.local.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    })),
  };
}

export async function runKeyRing(
  config: Config,
  request: KeyRingAction,
  out: NodeJS.WritableStream,
  nowS = Math.floor(Date.now() / 1000),
): Promise<number> {
  const domain = request.own ?? config.pmtp.domain;
  if (!domain) throw new Error('pmtp.domain is not set');
  if (request.action === 'forget-peer') return forgetPeer(config, request.domain, out);
  const file = ringConfigOf(config, domain).paths.ringFile as string;
  const ring = await ringOf(config, domain, file);
  if (request.action === 'list') {
    const rows = ring.keys.map(({ private_key: _pem, ...k }) => ({ ...k, state: keyState(k, nowS) }));
    if (request.json) out.write(`${JSON.stringify(rows, null, 2)}\n`);
    else for (const r of rows) out.write(`${r.key_id}  ${r.state}${describeSchedule(r, nowS)}\n`);
    return exitCode.ok;
  }
  let result: RingResult;
  let fresh: ReturnType<typeof generateDomainKey> | undefined;
  if (request.action === 'rotate') {
    fresh = generateDomainKey();
    result = rotate(ring.keys, fresh.keyId, nowS, {
      overlapS: request.overlapS ?? config.pmtp.key_overlap_s,
      retainS: config.pmtp.notice_lifetime_s,
    });
  } else if (request.action === 'revoke') result = revoke(ring.keys, request.keyId, nowS);
  else result = forget(ring.keys, request.keyId, nowS);
  if (!result.ok) {
    out.write(`mailbridge keys: ${result.reason}\n`);
    return exitCode.dataError;
  }
  const pems = new Map(ring.keys.map((k) => [k.key_id, k.private_key]));
  if (fresh) pems.set(fresh.keyId, fresh.privatePem);
  await writeRingFile(file, {
    v: 1,
    domain,
    keys: result.ring.map((k) => ({ ...k, private_key: pems.get(k.key_id) as string })),
  });
  out.write(`${file} written\n`);
  for (const k of result.ring) out.write(`${k.key_id}  ${keyState(k, nowS)}${describeSchedule(k, nowS)}\n`);
  const publicUrl =
    domain === config.pmtp.domain
      ? config.pmtp.public_url
      : (config.domains.settings[domain]?.pmtp?.public_url ?? config.pmtp.public_url);
  if (fresh && publicUrl) {
    const endpoint = new URL(publicUrl).origin;
    out.write('; publish before the old key retires (DNS pin and HTTPS anchor, §8.4, §8.6):\n');
    out.write(`_pmtp.${domain}.  TXT  "${formatDiscoveryRecord({ endpoint, fingerprint: fresh.keyId })}"\n`);
    const signers = publishedAt(result.ring, nowS).keys;
    out.write(
      `; https://${domain}/.well-known/pmtp/endpoint: ${JSON.stringify({ v: 1, domain, endpoint, key_ids: signers })}\n`,
    );
  }
  return exitCode.ok;
}

function describeSchedule(k: Parameters<typeof keyState>[0], nowS: number): string {
  const at = (label: string, t: number | undefined) =>
    t !== undefined && t > nowS ? `  ${label} ${new Date(t * 1000).toISOString()}` : '';
  return [
    at('signs from', k.signs_from),
    at('stops signing', k.signs_until),
    at('retires', k.retired_at),
    at('dropped', k.drop_at),
  ].join('');
}

async function forgetPeer(config: Config, domain: string, out: NodeJS.WritableStream): Promise<number> {
  const redis = connectRedis(config.redis, { maxRetriesPerRequest: 1, connectTimeout: 2000, lazyConnect: true });
  try {
    await redis.connect();
    await new RedisPeerTrust(redis, config.redis.prefix).forget(domain);
    out.write(`trust in the key set of ${domain} forgotten: it is discovered afresh on next contact\n`);
    return exitCode.ok;
  } finally {
    redis.disconnect();
  }
}
