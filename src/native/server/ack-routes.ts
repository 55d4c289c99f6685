// Origin-side POST /pmtp/v1/acks: a notified domain reports each recipient delivered or rejected
// after its pull; we move those recipients to their final state (an ack implies the fetch) and
// drop the stored message once every recipient is final. Idempotent; the answer is signed.
// Acks of mail we notified the requester of spend no budget; each other ack (and a malformed batch) costs one.
// A delegate key may ack only the one recipient it was granted (delegate-scope), or nothing is recorded.
// SMTP-born mail: the acked outcomes' DSN goes before the stored copy (RET=FULL returns from it).

import type { FastifyInstance } from 'fastify';
import { expiryJobId } from '../../mail/jobs.js';
import { type OutcomeReportDeps, reportOutcomes } from '../outbox/outcome-reports.js';
import type { PmtpContext } from '../pmtp-context.js';
import { type AckResponse, parseAckBatch } from '../protocol/ack.js';
import { PATHS } from '../protocol/endpoints.js';
import { isFinal } from '../protocol/recipient-state.js';
import type { OutboxDomain } from '../state/outbox-index.js';
import { ackInScope, type DelegateScopeDeps, noticedRecipients } from './delegate-scope.js';
import { type ReplyDeps, sendError, sendSigned } from './replies.js';
import { parseJsonBody, rawBody, spendPeerBudget } from './request-auth.js';

/** The parts of the PMTP context this file uses. */
export type AckRouteDeps = Pick<
  PmtpContext,
  'domain' | 'nowMs' | 'nowS' | 'outbox' | 'rate' | 'spool' | 'status' | 'traffic'
> &
  OutcomeReportDeps &
  ReplyDeps &
  DelegateScopeDeps;

export function registerAckRoutes(app: FastifyInstance, rt: AckRouteDeps): void {
  app.post(PATHS.acks, async (request, reply) => {
    const requester = request.pmtpOrigin ?? '';
    const parsed = parseAckBatch(parseJsonBody(rawBody(request)));
    if (!parsed.ok) return (await spendPeerBudget(rt, request, reply)) ?? sendError(reply, parsed.code, parsed.detail);
    // read once per message: the budget check and the results below use the same record
    const domains = new Map<string, OutboxDomain | undefined>();
    for (const ack of parsed.value.acks)
      if (!domains.has(ack.id)) domains.set(ack.id, await rt.outbox.domain(ack.id, requester));
    const strangers = parsed.value.acks.filter((ack) => !domains.get(ack.id)).length;
    const limited = strangers > 0 ? await spendPeerBudget(rt, request, reply, strangers) : undefined;
    if (limited) return limited;
    if (parsed.value.origin !== requester)
      return sendError(reply, 'wrong_origin', `ack origin ${parsed.value.origin} did not sign it`);
    if (parsed.value.destination !== rt.domain)
      return sendError(reply, 'wrong_destination', 'acks are for another domain', 403);
    const delegate = request.pmtpDelegate;
    if (delegate) {
      const acked = [];
      for (const { id, recipients } of parsed.value.acks) {
        const names = recipients.map((r) => r.recipient);
        acked.push(...(await noticedRecipients(rt, id, names)));
      }
      const scope = ackInScope(delegate, acked);
      if (!scope.ok) return sendError(reply, scope.code, scope.detail);
    }
    const results: AckResponse['results'] = [];
    for (const ack of parsed.value.acks) {
      const domain = domains.get(ack.id);
      const queueId = await rt.outbox.queueIdOf(ack.id, ack.version);
      const entry = queueId ? await rt.spool.read(queueId).catch(() => undefined) : undefined;
      const meta = entry?.meta.kind === 'pmtp-outbox' ? entry.meta : undefined;
      // `domain` names the current version: after an edit, a domain that pulled the old one is
      // acking that one, and the new version's notice may never have gone out to it
      if (!domain || !meta || meta.pmtp.digest !== ack.manifest_digest) {
        results.push({ id: ack.id, version: ack.version, status: 'unknown' });
        continue;
      }
      let firstDelivery = ack.recipients.some((r) => r.result === 'delivered');
      for (const r of ack.recipients) {
        const known = await rt.status.recipient(ack.id, r.recipient);
        if (known?.domain !== requester) continue;
        if (known.state === 'delivered') firstDelivery = false;
        const extra = r.result === 'rejected' ? { code: r.code ?? 'remote_permanent', text: r.text ?? '' } : {};
        if (known.version > ack.version) {
          // it pulled this version before the edit reached it, and keeps it (§12)
          await rt.status.keptVersion(ack.id, r.recipient, ack.version, r.result, rt.nowS(), extra);
          continue;
        }
        const events = r.result === 'delivered' ? (['accept', 'fetch', 'deliver'] as const) : (['reject'] as const);
        await rt.status.apply(ack.id, r.recipient, events, rt.nowS(), extra, ack.version);
      }
      results.push({ id: ack.id, version: ack.version, status: 'recorded' });
      // one message to this peer domain, counted at its first delivered recipient (acks repeat)
      if (firstDelivery)
        await rt.traffic
          .record(
            { kind: 'message', direction: 'out', protocol: 'pmtp', domain: requester, bytes: entry?.size ?? 0 },
            new Date(rt.nowMs()),
          )
          .catch((err: unknown) => rt.log.warn({ err }, 'traffic ledger: not recorded'));
      // a DSN that cannot be queued now keeps the copy: the expiry job reports and drops it later
      const reported =
        queueId === undefined ||
        (await reportOutcomes(rt, { queueId, meta }).then(
          () => true,
          (err: unknown) => {
            rt.log.error({ err, id: ack.id }, 'could not queue a DSN');
            return false;
          },
        ));
      // this version's copy serves only the recipients on this version (after an edit, those that
      // had pulled the old one keep it)
      const served = (await rt.status.get(ack.id)).filter((s) => s.version === ack.version);
      if (queueId && reported && served.length > 0 && served.every((s) => isFinal(s.state))) {
        await rt.spool.remove(queueId).catch(() => undefined);
        // the copy is done: its expiry timer would only hold ~1 kB of Redis for the rest of the lifetime
        await rt.queues
          .queue('notice')
          .remove(expiryJobId(queueId))
          .catch(() => undefined);
      }
    }
    return sendSigned(rt, request, reply, { v: 1, results } satisfies AckResponse);
  });
}
