// Sender tokens this domain issued: the registry behind `mailbridge tokens issue|list|revoke`, the
// atomic use counter (a use is one (origin, message, recipient), so a re-sent notice is not a
// second use) and the revocation set checked before any use counts.
import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../../queue/redis-connection.js';
import { groupedKey } from '../../queue/redis-keys.js';
import type { PrivateKeyInput } from '../protocol/ed25519.js';
import { issueSenderToken, type SenderTokenInput } from '../protocol/sender-token.js';

export interface IssuedToken {
  readonly tokenId: string;
  readonly token: string;
  readonly recipient: string;
  readonly scope: SenderTokenInput['scope'];
  readonly expires: number;
  readonly maxUses?: number;
  readonly issuedAt: number;
}

export interface TokenListing extends IssuedToken {
  readonly uses: number;
  readonly revoked: boolean;
}

export type TokenUse = 'ok' | 'token_exhausted' | 'token_revoked';

// KEYS[1] uses set, KEYS[2] revoked set; ARGV: token id, use, max uses (0 = no limit), expire-at
const useScript = `
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return -1 end
if redis.call('SISMEMBER', KEYS[1], ARGV[2]) == 1 then return 1 end
if tonumber(ARGV[3]) > 0 and redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[3]) then return -2 end
redis.call('SADD', KEYS[1], ARGV[2])
redis.call('EXPIREAT', KEYS[1], ARGV[4])
return 1
`;

export class SenderTokenStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  private k(part: string): string {
    // the use script reads a token's uses and the revoked set together: every token key in one slot
    return groupedKey(this.prefix, 'tokens', `pmtp:${part}`);
  }

  async issue(
    input: Omit<SenderTokenInput, 'token_id' | 'issuer'> & { issuer: string },
    privateKey: PrivateKeyInput,
    nowS: number,
  ): Promise<IssuedToken> {
    const tokenId = `tok_${randomBytes(12).toString('base64url')}`;
    const token = issueSenderToken({ ...input, token_id: tokenId }, privateKey);
    const issued: IssuedToken = {
      tokenId,
      token,
      recipient: input.recipient,
      scope: input.scope,
      expires: input.expires,
      ...(input.max_uses === undefined ? {} : { maxUses: input.max_uses }),
      issuedAt: nowS,
    };
    await this.redis.multi().hset(this.k('tokens'), tokenId, JSON.stringify(issued)).exec();
    return issued;
  }

  /** Counts one use atomically, unless revoked or used up. */
  async use(tokenId: string, use: string, maxUses: number | undefined, expiresS: number): Promise<TokenUse> {
    const result = await this.redis.eval(
      useScript,
      2,
      this.k(`token-uses:${tokenId}`),
      this.k('token-revoked'),
      tokenId,
      use,
      String(maxUses ?? 0),
      String(expiresS + 86_400),
    );
    return result === -1 ? 'token_revoked' : result === -2 ? 'token_exhausted' : 'ok';
  }

  async revoke(tokenId: string): Promise<boolean> {
    const known = (await this.redis.hexists(this.k('tokens'), tokenId)) === 1;
    await this.redis.sadd(this.k('token-revoked'), tokenId);
    return known;
  }

  async list(): Promise<TokenListing[]> {
    const all = await this.redis.hgetall(this.k('tokens'));
    const out: TokenListing[] = [];
    for (const raw of Object.values(all)) {
      const t = JSON.parse(raw) as IssuedToken;
      const [uses, revoked] = await Promise.all([
        this.redis.scard(this.k(`token-uses:${t.tokenId}`)),
        this.redis.sismember(this.k('token-revoked'), t.tokenId),
      ]);
      out.push({ ...t, uses, revoked: revoked === 1 });
    }
    return out.sort((a, b) => a.issuedAt - b.issuedAt || a.tokenId.localeCompare(b.tokenId));
  }
}
