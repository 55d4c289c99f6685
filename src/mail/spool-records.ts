// The record the spool keeps beside each message's bytes: one shape per kind of entry, a union on
// `kind`, holding what a later stage needs without re-running a check and what restart recovery
// needs to give the entry its job back. Parsed once, where the spool reads the JSON.

import { z } from 'zod';
import type { QueueName } from '../config/schema.js';
import { TRUST_CLASSES } from '../native/protocol/first-contact-policy.js';
import { manifestSchema } from '../native/protocol/message-format.js';
import { messageSignatureSchema } from '../native/protocol/message-signature.js';

/** Where RCPT routing sent a recipient: a Maildir here, Postfix behind us, a PMTP domain, or the legacy internet. */
export const ROUTE_KINDS = ['mailbox', 'postfix', 'pmtp', 'internet'] as const;
export type RouteKind = (typeof ROUTE_KINDS)[number];

const envelope = z.object({ mailFrom: z.string(), rcptTo: z.array(z.string()) });
export type Envelope = z.output<typeof envelope>;

const route = z.object({
  /** normalised recipient: local part as sent, domain in lower-case ASCII */
  rcpt: z.string(),
  // 'native' is how releases before the `domains.mailbox` rename spelled 'mailbox'
  kind: z.enum([...ROUTE_KINDS, 'native']).transform((k): RouteKind => (k === 'native' ? 'mailbox' : k)),
  domain: z.string(),
  /** how a pmtp domain was found */
  via: z.enum(['directory', 'dns']).optional(),
});
export type InboundRoute = z.output<typeof route>;

const dkimVerdict = z.object({
  domain: z.string(),
  selector: z.string().optional(),
  /** mailauth's result, except a pass with an unsigned tail reads `policy` */
  result: z.string(),
  unsignedTail: z.boolean(),
});
export type DkimVerdict = z.output<typeof dkimVerdict>;

const senderVerdict = z.object({
  action: z.enum(['accept', 'quarantine', 'reject', 'tempfail']),
  reason: z.string(),
  dmarc: z.string(),
  /** true when the verdict changed mailauth's DMARC result (From count, `l=` tail) */
  dmarcOverridden: z.boolean(),
  policy: z.enum(['none', 'quarantine', 'reject']).optional(),
  fromDomain: z.string().optional(),
  spf: z.string(),
  dkim: z.array(dkimVerdict),
});
export type SenderVerdict = z.output<typeof senderVerdict>;
export type SenderAction = SenderVerdict['action'];
export type DmarcPolicy = NonNullable<SenderVerdict['policy']>;
export type SenderAuthMode = 'enforce' | 'record' | 'skip';

/** RFC 3461 NOTIFY values; NEVER stands alone. */
export const DSN_NOTIFY = ['NEVER', 'SUCCESS', 'FAILURE', 'DELAY'] as const;
export type DsnNotify = (typeof DSN_NOTIFY)[number];

/** A recipient's RCPT TO parameters (RFC 3461 §4.1, §4.2), when the client gave any. */
const recipientDsn = z.object({
  notify: z.array(z.enum(DSN_NOTIFY)).min(1).max(3).optional(),
  /** ORCPT decoded from xtext: `addr-type;address` */
  orcpt: z.string().min(3).max(500).optional(),
});
export type RecipientDsn = z.output<typeof recipientDsn>;

/** The transaction's MAIL FROM parameters (RFC 3461 §4.3, §4.4) and each recipient's. */
const messageDsn = z.object({
  ret: z.enum(['FULL', 'HDRS']).optional(),
  /** ENVID decoded from xtext */
  envid: z.string().min(1).max(100).optional(),
  /** keyed by the normalised recipient, as in `routes`; only recipients that gave NOTIFY or ORCPT */
  recipients: z.record(z.string(), recipientDsn).optional(),
});
export type MessageDsn = z.output<typeof messageDsn>;

const base = {
  queueId: z.string(),
  createdAt: z.string(),
  envelope,
};

/** Accepted over SMTP by a listener; the `inbound` stage routes it. */
const smtpRecord = z.object({
  ...base,
  kind: z.literal('smtp'),
  queue: z.literal('inbound'),
  client: z.object({
    /** the address the checks used: the socket's, or XFORWARD ADDR from a trusted relay-in client */
    ip: z.string(),
    helo: z.string(),
    /** the socket peer, which differs from `ip` under XFORWARD */
    peer: z.string(),
    role: z.enum(['mx', 'submission', 'relay-in']),
    user: z.string().nullable(),
    tls: z.boolean(),
    /** for the Received header: SMTP, ESMTP, ESMTPS, ESMTPSA */
    protocol: z.string(),
  }),
  routes: z.array(route),
  senderAuth: z.object({ mode: z.enum(['enforce', 'record', 'skip']), verdict: senderVerdict.nullable() }),
  /** a complete `Authentication-Results:` field ending in CRLF, to be prepended on the way out */
  authenticationResults: z.string(),
  /** our `Received:` field ending in CRLF, to be prepended on the way out */
  received: z.string(),
  /** ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results (CRLF-ended), or '' when not sealed */
  arcSet: z.string(),
  /** a submission client asked for its message back signed: the only recipient is the sender */
  signBack: z.boolean(),
  /** DMARC said quarantine: deliver, but mark as suspect */
  quarantine: z.boolean(),
  body: z.object({ size: z.number(), type: z.string(), smtputf8: z.boolean() }),
  /** DSN parameters the client gave; absent in records written before DSN was advertised */
  dsn: messageDsn.optional(),
});

const outboxFacts = z.object({
  id: z.string(),
  version: z.number().int().positive(),
  digest: z.string(),
  manifest: manifestSchema,
  signatures: z.array(messageSignatureSchema),
  /** unix seconds after which peers may no longer pull */
  expires: z.number(),
  /** destination domain → its recipients only (Bcc privacy: a domain never sees another's) */
  destinations: z.record(z.string(), z.array(z.string())),
  /** sender tokens recipients gave us, sent with the notices (each names its recipient) */
  tokens: z.array(z.string()).optional(),
});
export type OutboxFacts = z.output<typeof outboxFacts>;

/**
 * What the origin side needs to tell an SMTP sender how its message ended over PMTP: the SMTP
 * entry is gone once handed to the outbox, so the hand-off copies these facts here.
 */
const smtpOrigin = messageDsn.extend({
  /** the queue id the SMTP client was given (`250 … queued as`) */
  queueId: z.string(),
  /** when the SMTP listener accepted the message */
  arrivedAt: z.string(),
  /** who gets DSNs (dsnTarget at hand-off); absent when none may be sent, and `withheld` says why */
  to: z.string().optional(),
  withheld: z.string().optional(),
});
export type SmtpOrigin = z.output<typeof smtpOrigin>;

/** A signed PMTP message we originate (body = its part octets in order); the `notice` stage announces it. */
const outboxRecord = z.object({
  ...base,
  kind: z.literal('pmtp-outbox'),
  queue: z.literal('notice'),
  pmtp: outboxFacts,
  /** SMTP-born mail only (absent in records written before DSNs over PMTP) */
  smtp: smtpOrigin.optional(),
});

/** A PMTP message we pulled (body = its part octets in order), waiting for local delivery. */
const receivedRecord = z.object({
  ...base,
  kind: z.literal('pmtp-received'),
  queue: z.literal('pull'),
  /** the pull job that owns the entry: restart recovery must not start a second one */
  jobId: z.string(),
  pmtp: z.object({
    origin: z.string(),
    id: z.string(),
    version: z.number().int().positive(),
    digest: z.string(),
    /** the sender this version's notice named (absent in copies pulled before it was recorded) */
    sender: z.string().optional(),
    manifest: manifestSchema,
    signatures: z.array(messageSignatureSchema),
  }),
});

/** Pulled PMTP mail written as RFC 5322 for a mailbox behind Postfix; the `outbound` stage delivers it. */
const pulledForPostfixRecord = z.object({
  ...base,
  kind: z.literal('pmtp'),
  queue: z.literal('outbound'),
  pmtp: z.object({ id: z.string(), version: z.number(), origin: z.string(), trustClass: z.enum(TRUST_CLASSES) }),
});

/** A delivery status notification we composed; null sender, so a failed DSN is never answered. */
const dsnRecord = z.object({ ...base, kind: z.literal('dsn'), queue: z.literal('outbound') });

const spoolRecord = z.discriminatedUnion('kind', [
  smtpRecord,
  outboxRecord,
  receivedRecord,
  pulledForPostfixRecord,
  dsnRecord,
]);

export type SpoolRecord = z.output<typeof spoolRecord>;
export type SmtpRecord = Extract<SpoolRecord, { kind: 'smtp' }>;
export type OutboxRecord = Extract<SpoolRecord, { kind: 'pmtp-outbox' }>;
export type ReceivedRecord = Extract<SpoolRecord, { kind: 'pmtp-received' }>;
export type PulledForPostfixRecord = Extract<SpoolRecord, { kind: 'pmtp' }>;
export type DsnRecord = Extract<SpoolRecord, { kind: 'dsn' }>;

type WithoutQueueId<T> = T extends unknown ? Omit<T, 'queueId'> : never;
/** What a writer hands the spool; the spool adds the queue id it chose. */
export type SpoolRecordInput = WithoutQueueId<SpoolRecord>;

export type SpoolRecordResult =
  | { readonly ok: true; readonly record: SpoolRecord }
  | { readonly ok: false; readonly detail: string };

/** Validates a record read from disk: an entry that fails this is left for an operator, never guessed at. */
export function parseSpoolRecord(value: unknown): SpoolRecordResult {
  const parsed = spoolRecord.safeParse(value);
  if (parsed.success) return { ok: true, record: parsed.data };
  const issue = parsed.error.issues[0];
  return { ok: false, detail: issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid' };
}

/** The job that takes an entry when it is accepted, and again when restart recovery finds it without one. */
export function entryJob(
  record: Pick<SpoolRecord, 'queue' | 'queueId'>,
): { queue: QueueName } & (
  | { queue: 'inbound' | 'outbound'; data: { queueId: string } }
  | { queue: 'notice'; data: { action: 'fan-out'; queueId: string } }
  | { queue: 'pull'; data: { mode: 'resume'; queueId: string } }
) {
  switch (record.queue) {
    case 'inbound':
    case 'outbound':
      return { queue: record.queue, data: { queueId: record.queueId } };
    case 'notice':
      return { queue: 'notice', data: { action: 'fan-out', queueId: record.queueId } };
    case 'pull':
      return { queue: 'pull', data: { mode: 'resume', queueId: record.queueId } };
  }
}
