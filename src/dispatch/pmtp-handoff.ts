// The inbound stage's hand-off to the PMTP outbox: converts a message accepted over SMTP into one
// signed PMTP message per destination domain (Bcc privacy), original bytes kept as the last part,
// the SMTP verdicts as provenance. Part octets go through a temp file, never whole into memory.
// PMTP-Token fields leave the message: each token goes only to the recipient domain that issued it.
// The outbox copy keeps what a DSN needs (the sender it may go to, RET, ENVID, NOTIFY, ORCPT, the
// SMTP queue id), since this SMTP entry is gone by the time a PMTP recipient's outcome is known.

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { dsnTarget } from '../mail/dsn.js';
import { SenderGrants } from '../mail/sender-grants.js';
import type { InboundRoute, SmtpOrigin, SmtpRecord } from '../mail/spool-records.js';
import { sameAddress } from '../native/protocol/address.js';
import type { Manifest, Provenance } from '../native/protocol/message-format.js';
import { readSenderToken } from '../native/protocol/sender-token.js';
import type { Spool } from '../spool/spool.js';
import { withoutFields } from '../translate/header-filter.js';
import { isPmtpToken, strippedOnDelivery } from '../translate/header-mapping.js';
import { rfc5322ToPmtp } from '../translate/rfc5322-to-pmtp.js';
import type { PmtpSubmission, SmtpEntry } from './inbound-dispatch.js';

/** What the hand-off needs of the PMTP outbox; src/native/outbox's PmtpOutbox is the one the gateway passes. */
export interface OutboxSubmitter {
  submit(input: {
    manifest: Manifest;
    body: AsyncIterable<Uint8Array>;
    recipients: readonly string[];
    tokens?: readonly string[];
    smtp?: SmtpOrigin;
  }): Promise<unknown>;
}

export interface PmtpHandoffDeps {
  readonly config: Pick<Config, 'hostname' | 'pmtp' | 'smtp'>;
  readonly spool: Spool;
  readonly outbox: OutboxSubmitter;
  /** a local sender's correspondents skip first contact when they answer */
  readonly allowlistCorrespondents?: (sender: string, recipients: readonly string[]) => Promise<void>;
  /** lets `mailbridge status <queue id>` find the PMTP message made from it */
  readonly index?: (queueId: string, messageId: string) => Promise<void>;
}

type Verdict = Provenance['spf']['result'];
const verdicts = new Set<string>(['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror', 'policy']);
const verdictOf = (value: string | undefined): Verdict => (value && verdicts.has(value) ? (value as Verdict) : 'none');

export function pmtpHandoff(deps: PmtpHandoffDeps): PmtpSubmission {
  const grants = new SenderGrants(deps.config.smtp.accounts);
  return async (entry: SmtpEntry, routes: readonly InboundRoute[]) => {
    const { meta } = entry;
    const byDomain = new Map<string, string[]>();
    for (const route of routes) byDomain.set(route.domain, [...(byDomain.get(route.domain) ?? []), route.rcpt]);
    for (const [domain, recipients] of byDomain) {
      await submitOne(deps, entry, meta, domain, recipients);
    }
    // only for the login's own address: a login allowed any sender must not edit another user's contacts
    const { user } = meta.client;
    if (meta.client.role === 'submission' && user && grants.binds(user, meta.envelope.mailFrom)) {
      await deps.allowlistCorrespondents?.(
        meta.envelope.mailFrom,
        routes.map((r) => r.rcpt),
      );
    }
  };
}

async function submitOne(
  deps: PmtpHandoffDeps,
  entry: SmtpEntry,
  meta: SmtpRecord,
  domain: string,
  recipients: string[],
): Promise<void> {
  const verdict = meta.senderAuth.verdict;
  const provenance: Provenance = {
    spf: { result: verdictOf(verdict?.spf), domain: meta.envelope.mailFrom.split('@')[1] ?? meta.client.helo },
    dkim: (verdict?.dkim ?? [])
      .slice(0, 50)
      .map((d) => ({ result: verdictOf(d.result), domain: d.domain, selector: d.selector ?? '' })),
    dmarc: { result: verdictOf(verdict?.dmarc), domain: verdict?.fromDomain ?? '' },
    arc: { result: 'none' },
    client_ip: meta.client.ip,
    helo: meta.client.helo.slice(0, 255),
    mail_from: meta.envelope.mailFrom,
    rcpt_to: recipients,
    received_at: Math.floor(Date.parse(meta.createdAt) / 1000),
    gateway: deps.config.pmtp.domain ?? deps.config.hostname,
  };
  // stable per (message, destination), and so is the whole manifest (created = arrival): a job run
  // again after a crash re-submits the very same message, which the outbox recognises
  const id = `${entry.queueId}-${createHash('sha256').update(domain).digest('base64url').slice(0, 10)}`;
  const partsFile = path.join(deps.spool.tmpDir, `${id}.parts`);
  // the copy leaves without PMTP-Token (and without Authentication-Results in our name); the
  // manifest is made from these bytes, and the original part is these bytes again, read the same way
  const stripped = strippedOnDelivery([deps.config.hostname]);
  const presented: string[] = [];
  const collectTokens = (name: string, value: string): boolean => {
    if (isPmtpToken(name)) presented.push(value.trim());
    return stripped(name, value);
  };
  const spool = deps.spool;
  const original = async (drop: typeof stripped) =>
    withoutFields((await spool.openBody(entry)).stream as AsyncIterable<Buffer>, drop);
  try {
    const out = createWriteStream(partsFile, { mode: 0o600 });
    const manifest = await rfc5322ToPmtp(
      await original(collectTokens),
      { id, created: provenance.received_at, provenance, ownAuthservIds: [deps.config.hostname] },
      async (_index, _meta, octets) => {
        for await (const chunk of octets)
          if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
      },
    );
    await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
    async function* body(): AsyncGenerator<Buffer> {
      yield* createReadStream(partsFile) as AsyncIterable<Buffer>;
      // the original bytes are the manifest's last part, read again from the spool entry
      yield* await original(stripped);
    }
    const tokens = tokensFor(presented, domain, recipients);
    await deps.outbox.submit({
      manifest,
      body: body(),
      recipients,
      ...(tokens.length > 0 ? { tokens } : {}),
      smtp: smtpOrigin(entry.queueId, meta, recipients),
    });
    await deps.index?.(entry.queueId, id);
  } finally {
    await rm(partsFile, { force: true });
  }
}

/**
 * The presented tokens `domain` issued for one of `recipients`: a pre-approval tells its issuer
 * who may write to whom, so no other destination sees it. Unreadable tokens go nowhere.
 */
function tokensFor(presented: readonly string[], domain: string, recipients: readonly string[]): string[] {
  return [...new Set(presented)].filter((token) => {
    const read = readSenderToken(token);
    return (
      read.ok &&
      read.value.claims.issuer === domain &&
      recipients.some((r) => sameAddress(r, read.value.claims.recipient))
    );
  });
}

/** The DSN facts of this destination's recipients, for the outbox record. */
function smtpOrigin(queueId: string, meta: SmtpRecord, recipients: readonly string[]): SmtpOrigin {
  const target = dsnTarget(meta);
  const asked = Object.entries(meta.dsn?.recipients ?? {}).filter(([rcpt]) => recipients.includes(rcpt));
  return {
    queueId,
    arrivedAt: meta.createdAt,
    ...(target.to ? { to: target.to } : { withheld: target.withheld }),
    ...(meta.dsn?.ret ? { ret: meta.dsn.ret } : {}),
    ...(meta.dsn?.envid ? { envid: meta.dsn.envid } : {}),
    ...(asked.length > 0 ? { recipients: Object.fromEntries(asked) } : {}),
  };
}
