// With many domains, each notice and pull job runs as the one of our domains it belongs to, so
// its requests are signed by that domain's keys: a notice job as the message's origin (the domain
// whose origin signature it carries), a pull job as the domain its notice named our recipients in.
import type { MailProcessor } from '../../queue/queues.js';
import type { PmtpContext } from '../pmtp-context.js';
import { domainOf } from '../protocol/address.js';

type Reader = Pick<PmtpContext, 'inbound' | 'spool'>;

/** Runs `data` with the processor of the message's origin domain; `fallback` is the default domain's. */
export function noticeByOrigin(
  rt: Reader,
  byDomain: ReadonlyMap<string, MailProcessor<'notice'>>,
  fallback: MailProcessor<'notice'>,
): MailProcessor<'notice'> {
  if (byDomain.size === 0) return fallback;
  return async (job, data, token) => {
    const entry = await rt.spool.read(data.queueId).catch(() => undefined);
    const signatures = entry?.meta.kind === 'pmtp-outbox' ? entry.meta.pmtp.signatures : [];
    const origin = signatures.find((s) => s.role === 'origin' && byDomain.has(s.domain))?.domain;
    return (origin === undefined ? fallback : byDomain.get(origin)!)(job, data, token);
  };
}

/** Runs `data` with the processor of the domain of our recipients of that notice. */
export function pullByRecipientDomain(
  rt: Reader,
  byDomain: ReadonlyMap<string, MailProcessor<'pull'>>,
  fallback: MailProcessor<'pull'>,
): MailProcessor<'pull'> {
  if (byDomain.size === 0) return fallback;
  return async (job, data, token) => {
    let ref: { origin: string; id: string } | undefined = data.mode === 'resume' ? undefined : data;
    if (data.mode === 'resume') {
      const entry = await rt.spool.read(data.queueId).catch(() => undefined);
      if (entry?.meta.kind === 'pmtp-received') ref = entry.meta.pmtp;
    }
    const recipients = ref ? await rt.inbound.recipients(ref.origin, ref.id) : [];
    // one notice names one destination domain, but one message id may reach several of ours (one
    // shared record): pull as a domain with a recipient waiting for it, whose pull the origin allows
    // and moves to fetched; the other domains' acks imply their fetch (§10.4), each signed by its own
    const waiting = recipients.filter((r) => r.state === 'accepted' || r.state === 'fetched');
    const ours = (waiting.length > 0 ? waiting : recipients)
      .map((r) => domainOf(r.recipient))
      .find((d) => byDomain.has(d));
    return (ours === undefined ? fallback : byDomain.get(ours)!)(job, data, token);
  };
}
