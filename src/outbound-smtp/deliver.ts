// deliver: hands one message to the hosts of a route over SMTP or LMTP and reports each
// recipient's fate. Per destination, the fleet-wide limits in Redis admit each transaction and
// one nodemailer pool carries it; the message is a stream opened per try, so a 50 MB body never
// sits in memory.

import type { Readable } from 'node:stream';
import nodemailer, {
  type NodemailerError,
  type SMTPPoolOptions,
  type SMTPPoolSentMessageInfo,
  type Transporter,
} from 'nodemailer';
import type { Config } from '../config/schema.js';
import type { DestinationLimits } from '../queue/destination-limits.js';
import type { Hop, Route } from './mx-route.js';
import { classifyError, classifyReply, type RemoteOutcome } from './reply-class.js';

export interface DeliveryEnvelope {
  /** '' is the null sender (DSNs) */
  readonly from: string;
  readonly to: readonly string[];
  /** RFC 3461 parameters passed on to a host that advertises DSN (one NOTIFY and ORCPT for all of `to`) */
  readonly dsn?: HopDsn;
}

export interface HopDsn {
  readonly ret?: 'FULL' | 'HDRS';
  readonly envid?: string;
  readonly notify?: readonly string[];
  /** decoded, `addr-type;address` */
  readonly orcpt?: string;
}

/** Opens the message bytes afresh: a try on another host needs its own stream. */
export type OpenMessage = () => Promise<Readable>;

export type RecipientOutcome = 'delivered' | 'transient' | 'permanent';

export interface RecipientResult {
  readonly recipient: string;
  readonly outcome: RecipientOutcome;
  readonly reply: string;
  readonly code: RemoteOutcome['code'] | 'ok';
}

export interface DeliveryReport {
  /** `host:port` of the last host tried */
  readonly host: string;
  readonly results: readonly RecipientResult[];
  /** the host that took the message advertised DSN: it reports on from here */
  readonly dsnAdvertised?: boolean;
  /** the host that took the message speaks LMTP: the final delivery, not a relay */
  readonly lmtp?: boolean;
}

export interface DeliveryOptions {
  /** MTA-STS enforce: STARTTLS required and the certificate must name the MX host */
  readonly verifyTls?: boolean;
}

type Pool = Transporter<SMTPPoolSentMessageInfo, SMTPPoolOptions>;

/** `verify`: MTA-STS enforce; `require`: outbound.require_tls; `may`: STARTTLS when offered. */
type TlsMode = 'verify' | 'require' | 'may';

/** Destinations remembered at once; the least recently used pool is closed past this. */
const maxPools = 500;

export class SmtpDelivery {
  private readonly pools = new Map<string, Pool>();

  /** Without `limits` (tests of this class alone) only each pool's connection cap applies, per process. */
  constructor(
    private readonly config: Pick<Config, 'hostname' | 'outbound'>,
    private readonly limits?: DestinationLimits,
  ) {}

  /** Tries the route's hosts in order until one answers; the answer decides every recipient. */
  async deliver(
    route: Route,
    envelope: DeliveryEnvelope,
    open: OpenMessage,
    options: DeliveryOptions = {},
  ): Promise<DeliveryReport> {
    let lastHost = '';
    let lastOutcome: RemoteOutcome | undefined;
    // require_tls is about the legacy internet; our own mailbox hosts are configured by hand
    const tls: TlsMode = options.verifyTls
      ? 'verify'
      : this.config.outbound.require_tls && route.kind !== 'local'
        ? 'require'
        : 'may';
    const limit = {
      concurrency: this.config.outbound.destination_concurrency,
      perMinute: this.config.outbound.destination_rate_per_minute,
    };
    for (const hop of route.hops) {
      lastHost = `${hop.host}:${hop.port}`;
      // outside the try: a fault of our Redis is ours, not the host's, and must not move on to the next host
      const lease = await this.limits?.admit(lastHost, limit);
      const message = await open();
      try {
        const info = await this.poolFor(hop, tls).sendMail({
          envelope: { from: envelope.from === '' ? false : envelope.from, to: [...envelope.to], use8BitMime: true },
          raw: message,
          // nodemailer xtext-encodes these and sends them only when the host advertises DSN
          ...(envelope.dsn ? { dsn: hopDsn(envelope.dsn) } : {}),
        });
        return {
          host: lastHost,
          results: fromInfo(envelope.to, info),
          dsnAdvertised: (info.ehlo ?? []).some((line) => /^DSN\b/i.test(line)),
          lmtp: hop.protocol === 'lmtp',
        };
      } catch (err) {
        message.destroy();
        const outcome = classifyError(err);
        // a reply to the transaction is the destination's answer; only "no answer" moves on
        if (!outcome.connectionLevel)
          return { host: lastHost, results: fromError(envelope.to, err as NodemailerError, outcome) };
        lastOutcome = outcome;
      } finally {
        await lease?.release().catch(() => undefined);
      }
    }
    const outcome = lastOutcome ?? classifyError(new Error('route has no hosts'));
    return { host: lastHost, results: envelope.to.map((recipient) => resultOf(recipient, outcome)) };
  }

  /** Closes every pool; deliveries in progress finish first. */
  close(): void {
    for (const pool of this.pools.values()) pool.close();
    this.pools.clear();
  }

  private poolFor(hop: Hop, tls: TlsMode): Pool {
    const key = [hop.host, hop.port, hop.protocol, tls, hop.mxName ?? ''].join('|');
    const existing = this.pools.get(key);
    if (existing) {
      this.pools.delete(key);
      this.pools.set(key, existing);
      return existing;
    }
    if (this.pools.size >= maxPools) {
      const [oldestKey, oldest] = this.pools.entries().next().value as [string, Pool];
      this.pools.delete(oldestKey);
      oldest.close();
    }
    const pool = nodemailer.createTransport(this.poolOptions(hop, tls));
    this.pools.set(key, pool);
    return pool;
  }

  private poolOptions(hop: Hop, tls: TlsMode): SMTPPoolOptions & { pool: true } {
    const out = this.config.outbound;
    const servername = hop.mxName === undefined ? {} : { servername: hop.mxName };
    return {
      pool: true,
      host: hop.host,
      port: hop.port,
      lmtp: hop.protocol === 'lmtp',
      name: this.config.hostname,
      secure: false,
      // STARTTLS whenever offered; without a policy to enforce, any certificate beats plain text
      opportunisticTLS: true,
      requireTLS: tls !== 'may',
      tls: { ...servername, rejectUnauthorized: tls === 'verify' },
      // the fleet-wide limits admit each transaction; the pool must not hold back what they admitted
      maxConnections: out.destination_concurrency,
      // a half-read stream must never be sent again from the pool: BullMQ retries instead
      maxRequeues: 0,
      connectionTimeout: out.connect_timeout_s * 1000,
      logger: false,
    };
  }
}

function hopDsn(dsn: HopDsn): { ret?: string; envid?: string; notify?: string[]; orcpt?: string } {
  return {
    ...(dsn.ret ? { ret: dsn.ret } : {}),
    ...(dsn.envid ? { envid: dsn.envid } : {}),
    ...(dsn.notify ? { notify: [...dsn.notify] } : {}),
    ...(dsn.orcpt ? { orcpt: dsn.orcpt } : {}),
  };
}

function resultOf(recipient: string, outcome: RemoteOutcome): RecipientResult {
  return { recipient, outcome: outcome.class, reply: outcome.reply, code: outcome.code };
}

/** Addresses as nodemailer reports them may differ in case; match on the lowercased form. */
function byRecipient(errors: readonly NodemailerError[] | undefined): Map<string, NodemailerError> {
  return new Map((errors ?? []).filter((e) => e.recipient).map((e) => [e.recipient!.toLowerCase(), e]));
}

function fromInfo(recipients: readonly string[], info: SMTPPoolSentMessageInfo): RecipientResult[] {
  const accepted = new Set(info.accepted.map((a) => a.toLowerCase()));
  const rejected = byRecipient(info.rejectedErrors);
  return recipients.map((recipient) => {
    const error = rejected.get(recipient.toLowerCase());
    if (error) return resultOf(recipient, classifyError(error));
    if (accepted.has(recipient.toLowerCase()))
      return { recipient, outcome: 'delivered', reply: info.response, code: 'ok' };
    // no word about this recipient: trying again risks a duplicate, not a loss
    return resultOf(
      recipient,
      classifyReply(451, `no reply recorded for this recipient (last reply: ${info.response})`),
    );
  });
}

function fromError(recipients: readonly string[], err: NodemailerError, outcome: RemoteOutcome): RecipientResult[] {
  const rejected = byRecipient(err.rejectedErrors);
  return recipients.map((recipient) => {
    const own = rejected.get(recipient.toLowerCase());
    return resultOf(recipient, own ? classifyError(own) : outcome);
  });
}
