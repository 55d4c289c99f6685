// The `pull` queue processor, recipient side: pulls the `full` view of an accepted message
// promptly (never on user action: fetch timing must not become a read receipt), verifies it,
// spools it, hands it to LocalDelivery, then sends the signed ack. Retries resume where they
// stopped (a pulled message is not pulled again; delivered recipients are not delivered again).

import { Readable } from 'node:stream';
import { UnrecoverableError } from 'bullmq';
import { type PullJob, pullJobId } from '../../mail/jobs.js';
import type { LocalDelivery } from '../../mail/pulled-delivery.js';
import type { ReceivedRecord } from '../../mail/spool-records.js';
import { type MailJob, takesRetryAfter } from '../../queue/queues.js';
import { isRedisFault } from '../../queue/redis-faults.js';
import type { Spool } from '../../spool/spool.js';
import { AckBatcher } from '../client/ack-batcher.js';
import type { PmtpContext } from '../pmtp-context.js';
import type { AckBatch } from '../protocol/ack.js';
import { domainOf } from '../protocol/address.js';
import type { TrustClass } from '../protocol/first-contact-policy.js';
import { type Manifest, partOffsets } from '../protocol/message-format.js';
import { PmtpRequestError } from '../protocol/pmtp-request-error.js';
import { isFinal, type RecipientEvent, transition } from '../protocol/recipient-state.js';
import type { InboundRecipient } from '../state/inbound-notices.js';
import { type DecideDeps, decideDeferred } from './decide-deferred.js';
import { type PullViewDeps, pullView } from './pulled-message.js';

/** The parts of the PMTP context this file uses. */
export type PullWorkerDeps = Pick<
  PmtpContext,
  'client' | 'config' | 'domain' | 'inbound' | 'log' | 'metrics' | 'nowMs' | 'policy' | 'spool' | 'traffic'
> &
  DecideDeps &
  PullViewDeps;

const WITHDRAWN: Record<string, 'retract' | 'expire'> = {
  message_retracted: 'retract',
  message_expired: 'expire',
};

/**
 * `acksFor` gives the batcher that signs as one of our domains. With many domains, one message id
 * may name recipients in several of them (one shared inbound record, one pull): each domain acks its
 * own recipients under its own signature, since the origin applies an ack only to the recipients it
 * notified the signing domain of (§10.5), and such an ack implies that domain's fetch (§10.4).
 */
export function createPullProcessor(
  rt: PullWorkerDeps,
  localDelivery: LocalDelivery,
  acksFor: (domain: string) => AckBatcher = singleDomainAcks(rt),
) {
  const sendAck: SendAck = async (origin, id, version, digest, recipients) => {
    const byDomain = new Map<string, typeof recipients>();
    for (const r of recipients) {
      const domain = domainOf(r.recipient);
      byDomain.set(domain, [...(byDomain.get(domain) ?? []), r]);
    }
    await Promise.all(
      [...byDomain].map(([domain, group]) =>
        acksFor(domain).send(origin, {
          id,
          version,
          manifest_digest: digest,
          recipients: group,
        }),
      ),
    );
  };
  return async (job: MailJob, data: PullJob): Promise<string> => {
    let origin: string;
    let id: string;
    let version: number;
    if (data.mode === 'resume') {
      // recovered from the spool after a crash: the entry's record says what it is
      const entry = await rt.spool.read(data.queueId).catch(() => undefined);
      if (entry?.meta.kind !== 'pmtp-received') return 'gone';
      ({ origin, id, version } = entry.meta.pmtp);
    } else {
      ({ origin, id, version } = data);
    }
    // a finished job no longer holds its notice in the origin's backlog (a decision that queued a
    // pull keeps it until that pull is done)
    const done = async (outcome: string) => {
      if (data.mode !== 'decide') await rt.backlog.release('pull', origin, id, version);
      await rt.backlog.release('deferred', origin, id, version);
      return outcome;
    };
    let outcome: string;
    try {
      if (data.mode === 'decide') return await decideDeferred(rt, origin, id, version);
      outcome = await pullAndDeliver(rt, localDelivery, sendAck, origin, id, version);
    } catch (err) {
      // our Redis, not the origin: no attempt spent, no recipient expired (the worker retries in seconds)
      if (isRedisFault(err)) throw err;
      // a newer version is current at the origin: its notice decides our recipients again and
      // queues its own pull, so they wait for it (withdrawing them would refuse the new version)
      if (err instanceof PmtpRequestError && err.code === 'version_superseded') return done('superseded');
      // the origin said when to come back (429, 503): the queue waits that long without spending an attempt
      if (err instanceof PmtpRequestError && err.retryable && takesRetryAfter(err, job)) throw err;
      if (err instanceof PmtpRequestError && WITHDRAWN[err.code]) {
        for (const r of await rt.inbound.recipients(origin, id))
          await setState(rt, origin, id, r, WITHDRAWN[err.code]!);
        await rt.inbound.forgetHead(origin, id);
        return done(`withdrawn:${err.code}`);
      }
      const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (lastAttempt || (err instanceof PmtpRequestError && !err.retryable)) {
        // never pulled: the recipients' wait ends here (the origin sees no ack and expires them too)
        for (const r of await rt.inbound.recipients(origin, id))
          if (r.version === version && r.state === 'accepted') await setState(rt, origin, id, r, 'expire');
        await done('failed');
        throw new UnrecoverableError(err instanceof Error ? err.message : String(err));
      }
      throw err;
    }
    // a recipient accepted after this run took its recipients found the job still running, so its
    // add queued nothing (same job id): run once more rather than leave it waiting out the lifetime
    if (RUN_AGAIN_AFTER.has(outcome) && (await stillAccepted(rt, origin, id, version)))
      throw Object.assign(new Error(`recipients of ${origin}/${id} accepted during the pull`), { retryAfterS: 1 });
    return await done(outcome);
  };
}

/** Outcomes after which a recipient still `accepted` can only have been accepted during the run. */
const RUN_AGAIN_AFTER: ReadonlySet<string> = new Set(['delivered', 'already-delivered', 'nothing-accepted']);

async function stillAccepted(rt: PullWorkerDeps, origin: string, id: string, version: number): Promise<boolean> {
  return (await rt.inbound.recipients(origin, id)).some((r) => r.version === version && r.state === 'accepted');
}

async function pullAndDeliver(
  rt: PullWorkerDeps,
  localDelivery: LocalDelivery,
  sendAck: SendAck,
  origin: string,
  id: string,
  version: number,
): Promise<string> {
  const head = await rt.inbound.head(origin, id);
  let queueId =
    (await rt.inbound.copyOf(origin, id, version)) ?? (head?.version === version ? head.queueId : undefined);
  // the copy is named before it is committed: no entry while recipients still wait to be fetched
  // means the run that named it stopped before the commit, so pull again
  if (
    queueId &&
    !(await rt.spool.has(queueId)) &&
    (await rt.inbound.recipients(origin, id)).some((r) => r.version === version && r.state === 'accepted')
  )
    queueId = undefined;
  if (!queueId) {
    // not pulled yet, and a newer notice came: it decides the recipients again and pulls its version
    if (!head || head.version !== version) return 'superseded';
    const accepted = (await rt.inbound.recipients(origin, id)).filter(
      (r) => r.version === version && r.state === 'accepted',
    );
    if (accepted.length === 0) return 'nothing-accepted';
    const draft = await rt.spool.draft();
    const pulled = await pullView(rt, {
      origin,
      id,
      version,
      digest: head.digest,
      view: 'full',
      draft,
      maxBytes: rt.policy.ownSizeLimit(rt.domain) ?? rt.config.limits.message_size_bytes,
    });
    rt.metrics?.pull('made', pulled.ok ? 'ok' : 'error');
    rt.log.info(
      {
        origin,
        id,
        version,
        view: 'full',
        outcome: pulled.ok ? 'ok' : pulled.retry ? 'retry' : 'rejected',
        ...(pulled.ok ? {} : { code: pulled.code, reason: pulled.detail }),
      },
      'pull',
    );
    if (!pulled.ok) {
      if (pulled.retry) throw new PmtpRequestError('message_invalid', pulled.detail, true);
      for (const r of accepted) await setState(rt, origin, id, r, 'reject', { code: pulled.code, text: pulled.detail });
      await sendAck(
        origin,
        id,
        version,
        head.digest,
        accepted.map((r) => ({
          recipient: r.recipient,
          result: 'rejected' as const,
          code: pulled.code,
          text: pulled.detail.slice(0, 900),
        })),
      );
      return `rejected:${pulled.code}`;
    }
    const meta: Omit<ReceivedRecord, 'queueId'> = {
      kind: 'pmtp-received',
      queue: 'pull',
      // this pull job is the entry's live job: restart recovery must not start a second one
      jobId: pullJobId(origin, id, version),
      createdAt: new Date(rt.nowMs()).toISOString(),
      envelope: { mailFrom: pulled.head.manifest.from, rcptTo: accepted.map((r) => r.recipient) },
      pmtp: {
        origin,
        id,
        version,
        digest: head.digest,
        sender: head.sender,
        manifest: pulled.head.manifest,
        signatures: pulled.head.signatures,
      },
    };
    // named first (under its version: an edit's notice replaces the head), so a run stopped right
    // after the commit finds this copy instead of pulling a second one
    await rt.inbound.noteCopy(origin, id, version, draft.queueId);
    queueId = (await draft.commit(meta)).queueId;
  }
  // outside the pull itself: a run that died after recording the copy but before this still owes it
  for (const r of await rt.inbound.recipients(origin, id))
    if (r.version === version && r.state === 'accepted') await setState(rt, origin, id, r, 'fetch');
  const entry = await rt.spool.read(queueId).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!entry) {
    // gone: another run (one recovered from the spool after a crash) delivered it and removed the copy
    const open = (await rt.inbound.recipients(origin, id)).filter((r) => r.version === version && !isFinal(r.state));
    if (open.length === 0) return 'already-delivered';
    throw new UnrecoverableError(
      `spool entry ${queueId} of ${origin}/${id} is gone while ${open.length} recipient(s) wait`,
    );
  }
  const meta = entry.meta;
  if (meta.kind !== 'pmtp-received')
    throw new UnrecoverableError(`spool entry ${queueId} is not a received PMTP message`);
  const recipients = (await rt.inbound.recipients(origin, id)).filter((r) => r.version === version);
  const due = recipients.filter((r) => r.state === 'fetched');
  const byTrust = new Map<TrustClass, InboundRecipient[]>();
  for (const r of due) byTrust.set(r.trust ?? 'new-verified', [...(byTrust.get(r.trust ?? 'new-verified') ?? []), r]);
  let deferred = 0;
  for (const [trustClass, group] of byTrust) {
    const results = await localDelivery.deliver({
      queueId: queueId,
      origin,
      // an older copy's notice may have been replaced by an edit: the copy records its own
      noticeSender: meta.pmtp.sender ?? (head?.version === version ? head.sender : meta.pmtp.manifest.from),
      manifest: meta.pmtp.manifest,
      signatures: meta.pmtp.signatures,
      recipients: group.map((r) => r.recipient),
      trustClass,
      openPart: (index) => partStream(rt.spool, queueId!, meta.pmtp.manifest, index),
    });
    for (const result of results) {
      const rec = group.find((r) => r.recipient === result.recipient);
      if (!rec) continue;
      if (result.status === 'deferred') deferred++;
      else
        await setState(rt, origin, id, rec, result.status === 'delivered' ? 'deliver' : 'reject', {
          code: result.code ?? 'content_rejected',
          text: result.text ?? '',
        });
    }
  }
  const firstDelivery = !recipients.some((r) => r.state === 'delivered');
  const after = await rt.inbound.recipients(origin, id);
  if (firstDelivery && after.some((r) => r.version === version && r.state === 'delivered'))
    await rt.traffic
      .record(
        { kind: 'message', direction: 'in', protocol: 'pmtp', domain: origin, bytes: entry.size },
        new Date(rt.nowMs()),
      )
      .catch((err: unknown) => rt.log.warn({ err }, 'traffic ledger: not recorded'));
  const final = after.filter(
    (r) =>
      r.version === version &&
      (r.state === 'delivered' || r.state === 'rejected') &&
      recipients.some((x) => x.recipient === r.recipient),
  );
  if (final.length > 0) {
    await sendAck(
      origin,
      id,
      version,
      meta.pmtp.digest,
      final.map((r) =>
        r.state === 'delivered'
          ? { recipient: r.recipient, result: 'delivered' as const }
          : {
              recipient: r.recipient,
              result: 'rejected' as const,
              code: r.code ?? 'content_rejected',
              text: r.text ?? '',
            },
      ),
    );
  }
  if (deferred > 0)
    throw new PmtpRequestError('delivery_failed', `${deferred} recipient(s) deferred by local delivery`, true);
  const left = (await rt.inbound.recipients(origin, id)).filter((r) => r.version === version && !isFinal(r.state));
  if (left.length === 0) await rt.spool.remove(queueId);
  return 'delivered';
}

async function setState(
  rt: PullWorkerDeps,
  origin: string,
  id: string,
  rec: InboundRecipient,
  event: RecipientEvent,
  extra: { code?: string; text?: string } = {},
): Promise<void> {
  await rt.inbound.updateRecipient(origin, id, rec.recipient, (cur) => {
    if (!cur) return undefined;
    const next = transition(cur.state, event);
    return next.ok ? { ...cur, state: next.state, ...extra } : undefined;
  });
}

function singleDomainAcks(rt: PullWorkerDeps): (domain: string) => AckBatcher {
  const acks = new AckBatcher(rt.client, rt.domain);
  return () => acks;
}

type SendAck = (
  origin: string,
  id: string,
  version: number,
  digest: string,
  recipients: AckBatch['acks'][number]['recipients'],
) => Promise<void>;

/** Part `index`'s octets, out of a received entry's body (the parts in manifest order). */
async function partStream(spool: Spool, queueId: string, manifest: Manifest, index: number): Promise<Readable> {
  const part = manifest.parts[index];
  if (!part) throw new RangeError(`no part ${index}`);
  if (part.length === 0) return Readable.from([]);
  const start = partOffsets(manifest)[index] ?? 0;
  return (await spool.openBody(queueId, { start, end: start + part.length - 1 })).stream;
}
