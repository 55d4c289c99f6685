// The origin's outbox: stores a signed PMTP message as a spool entry (body = the part octets in
// order, meta = manifest, signatures, recipients per destination), recorded as current before its
// commit and queuing its notices with it, with the acceptor's durability (accepted only when
// spooled AND queued). Edits and retractions too.
// With many domains, mail whose From: is one of ours with its own PMTP key is originated (signed) by that domain.
import { Readable } from 'node:stream';
import type { OutboxRecord, SmtpOrigin } from '../../mail/spool-records.js';
import type { PmtpContext } from '../pmtp-context.js';
import { domainOf } from '../protocol/address.js';
import { contentSize, type Manifest, manifestDigest, parseManifest } from '../protocol/message-format.js';
import { type MessageSignature, originAligned, signManifest } from '../protocol/message-signature.js';
import { noticeJobs } from './notice-jobs.js';

/** The parts of the PMTP context this file uses. */
export type OutboxDeps = Pick<
  PmtpContext,
  'acceptor' | 'config' | 'domain' | 'keys' | 'nowMs' | 'nowS' | 'outbox' | 'queues' | 'spool' | 'status'
>;

export interface SubmitInput {
  readonly manifest: Manifest;
  /** The part octets, concatenated in manifest order. */
  readonly body: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
  /** Envelope recipients (remote PMTP addresses). */
  readonly recipients: readonly string[];
  /** Signatures to keep (author, earlier hops); we add the origin signature when absent. */
  readonly signatures?: readonly MessageSignature[];
  /** Sender tokens to present (recipients' pre-approvals). */
  readonly tokens?: readonly string[];
  /** SMTP-born mail: what a DSN to its SMTP sender needs (outcome-reports.ts) */
  readonly smtp?: SmtpOrigin;
}

export interface Submitted {
  readonly queueId: string;
  readonly id: string;
  readonly version: number;
  readonly digest: string;
}

/** Who originates a message: our domain and the key ring that signs for it. */
export type Origin = Pick<PmtpContext, 'domain' | 'keys'>;

export class PmtpOutbox {
  /** `origins`: our added domains (domains.settings.<d>.pmtp) by domain; rt is the default */
  constructor(
    private readonly rt: OutboxDeps,
    private readonly origins: ReadonlyMap<string, Origin> = new Map(),
  ) {}

  async submit(input: SubmitInput): Promise<Submitted> {
    const { rt } = this;
    const parsed = parseManifest(input.manifest);
    if (!parsed.ok) throw new TypeError(`manifest: ${parsed.detail}`);
    const manifest = parsed.value;
    // the author's own domain signs when it is one of ours: its peers then see an authenticated sender
    const origin = this.origins.get(domainOf(manifest.from)) ?? rt;
    if (!originAligned(manifest, origin.domain))
      throw new TypeError(`${origin.domain} may not originate mail from ${manifest.from}`);
    const destinations = groupByDomain(input.recipients);
    if (manifest.provenance) {
      // Bcc privacy: gateway manifests list SMTP recipients, so there must be one per destination
      const domains = Object.keys(destinations);
      const listed = manifest.provenance.rcpt_to.map((r) => domainOf(r));
      if (domains.length !== 1 || listed.some((d) => d !== domains[0]))
        throw new TypeError('a manifest with provenance must go to exactly its own destination domain');
    }
    const previousCurrent = await rt.outbox.current(manifest.id);
    if (previousCurrent && previousCurrent.version > manifest.version)
      throw new TypeError(
        `version ${manifest.version} of ${manifest.id} is older than the current ${previousCurrent.version}`,
      );
    // a copy recorded by a submit that died before its commit was never stored: write it anew
    if (previousCurrent?.version === manifest.version && (await rt.spool.has(previousCurrent.queueId))) {
      // the same version again: the hand-off job that submitted it ran a second time (its process
      // died after the submit). The copy accepted first is the one notices name; replacing it would
      // strand the peers' pulls, so keep it and only redo the idempotent bookkeeping.
      await this.record(manifest.id, manifest.version, previousCurrent.queueId, destinations);
      // its first run may have died before queuing them (ids make these no-ops otherwise)
      await rt.queues.addBulk(
        'notice',
        noticeJobs(rt, {
          queueId: previousCurrent.queueId,
          destinations,
          expires: previousCurrent.expires,
          smtp: input.smtp,
        }),
      );
      return {
        queueId: previousCurrent.queueId,
        id: manifest.id,
        version: manifest.version,
        digest: previousCurrent.digest,
      };
    }
    const digest = manifestDigest(manifest);
    const previous = input.signatures ?? [];
    const signatures = previous.some((s) => s.role === 'origin' && s.domain === origin.domain)
      ? [...previous]
      : [
          signManifest({
            manifestDigest: digest,
            previous: [],
            role: 'origin',
            domain: origin.domain,
            keyId: origin.keys.current.keyId,
            privateKey: origin.keys.current.privateKey,
            created: rt.nowS(),
          }),
          ...previous,
        ];
    const draft = await rt.spool.draft();
    const source =
      input.body instanceof Uint8Array
        ? Readable.from([Buffer.from(input.body)])
        : Readable.from(input.body as Iterable<Uint8Array>);
    try {
      await draft.writeBody(source, contentSize(manifest));
    } catch (err) {
      await draft.discard();
      throw err;
    }
    if (draft.bodySize !== contentSize(manifest)) {
      await draft.discard();
      throw new TypeError(`body is ${draft.bodySize} octets, the manifest says ${contentSize(manifest)}`);
    }
    const expires = previousCurrent?.expires ?? rt.nowS() + rt.config.pmtp.notice_lifetime_s;
    const meta: Omit<OutboxRecord, 'queueId'> = {
      kind: 'pmtp-outbox',
      queue: 'notice',
      createdAt: new Date(rt.nowMs()).toISOString(),
      envelope: { mailFrom: manifest.from, rcptTo: [...input.recipients] },
      pmtp: {
        id: manifest.id,
        version: manifest.version,
        digest,
        manifest,
        signatures,
        expires,
        destinations,
        ...(input.tokens?.length ? { tokens: [...input.tokens] } : {}),
      },
      ...(input.smtp ? { smtp: input.smtp } : {}),
    };
    // recipients that pulled the old version keep it (§12), and a pull only marks those we saw
    // accept, so any domain notified of it may owe us acks: the copy stays for them, until its
    // served recipients are final or its own expiry job drops it
    const notifiedOld = Object.values(await rt.outbox.domains(manifest.id)).some(
      (d) => d.version === previousCurrent?.version && d.notified,
    );
    // recorded as current before the commit, so the copy never sits in the spool unrecorded and
    // without a job, and no notice job can find it unrecorded; nobody pulls it before its notice
    // (the destinations are recorded as not notified), and a retry after a crash before the
    // commit finds no stored copy and writes it anew
    const queueId = draft.queueId;
    try {
      const unstored = previousCurrent?.version === manifest.version ? previousCurrent.queueId : undefined;
      const node = rt.config.node?.id;
      await rt.outbox.setCurrent(
        manifest.id,
        { version: manifest.version, queueId, digest, expires, ...(node ? { node } : {}) },
        unstored,
      );
      await this.record(manifest.id, manifest.version, queueId, destinations);
    } catch (err) {
      await draft.discard();
      throw err;
    }
    // the notices are queued with the commit rather than by a fan-out job
    const entry = await rt.acceptor.accept(draft, meta, async () => {
      await rt.queues.addBulk('notice', noticeJobs(rt, { queueId, destinations, expires, smtp: input.smtp }));
    });
    if (previousCurrent && previousCurrent.queueId !== entry.queueId && !notifiedOld)
      await rt.spool.remove(previousCurrent.queueId).catch(() => undefined);
    return { queueId: entry.queueId, id: manifest.id, version: manifest.version, digest };
  }

  /** Per-destination recipients and status of an accepted version: each step idempotent. */
  private async record(
    id: string,
    version: number,
    queueId: string,
    destinations: Record<string, string[]>,
  ): Promise<void> {
    const { rt } = this;
    for (const [domain, recipients] of Object.entries(destinations))
      await rt.outbox.setDomain(id, domain, version, recipients, false);
    await rt.status.index(queueId, id);
    await rt.status.notified(id, version, destinations, rt.nowS());
  }

  /** Replaces an unpulled message by a new version (same id, version + 1) and notifies it. */
  async edit(input: SubmitInput): Promise<Submitted> {
    const current = await this.rt.outbox.current(input.manifest.id);
    if (!current) throw new TypeError(`no message ${input.manifest.id} to edit`);
    if (input.manifest.version !== current.version + 1)
      throw new TypeError(`the edit must be version ${current.version + 1}`);
    return this.submit(input);
  }

  /** Withdraws the message from every destination (or one recipient): pulls then get 410. */
  async retract(id: string, reason: 'retracted' | 'given_up' = 'retracted', recipient?: string): Promise<void> {
    const { rt } = this;
    const current = await rt.outbox.current(id);
    if (!current) throw new TypeError(`no message ${id}`);
    const event = reason === 'retracted' ? 'retract' : 'give-up';
    for (const [domain, info] of Object.entries(await rt.outbox.domains(id))) {
      const targets = recipient === undefined ? info.recipients : info.recipients.filter((r) => r === recipient);
      if (targets.length === 0) continue;
      for (const r of targets) await rt.status.apply(id, r, event, rt.nowS());
      if (recipient === undefined) await rt.outbox.withdraw(id, domain, reason);
      const data = {
        action: 'withdraw',
        queueId: current.queueId,
        domain,
        reason,
        ...(recipient ? { recipient } : {}),
      } as const;
      await rt.queues.add('notice', data, {
        jobId: `withdraw-${current.queueId}-${domain}-${reason}${recipient ? `-${recipient.replace(/[^A-Za-z0-9._-]/g, '_')}` : ''}`,
      });
    }
  }
}

export function groupByDomain(recipients: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const r of recipients) {
    const domain = domainOf(r);
    const listed = out[domain] ?? [];
    if (!listed.includes(r)) listed.push(r);
    out[domain] = listed;
  }
  return out;
}
