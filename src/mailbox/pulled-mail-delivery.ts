// Where pulled PMTP mail goes here: `domains.mailbox` recipients get RFC 5322 bytes in their Maildir (with a
// `pmtp=pass ... policy.trust= policy.author=` Authentication-Results and PMTP-Trust), Postfix-hosted recipients get a spooled
// RFC 5322 copy queued for the outbound stage. Implements the pull worker's LocalDelivery.

import { Readable } from 'node:stream';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { MailboxDelivery } from '../mail/mailbox-delivery.js';
import type { LocalDelivery, LocalDeliveryRequest, LocalDeliveryResult } from '../mail/pulled-delivery.js';
import { pmtpAuthenticationResults, pmtpTrustField, receivedHeader } from '../mail/trace-fields.js';
import { type AuthorJudgement, judgeAuthor } from '../native/protocol/author-standing.js';
import type { MessageAcceptor } from '../queue/accept.js';
import { isRedisFault } from '../queue/redis-faults.js';
import type { Spool } from '../spool/spool.js';
import type { FieldTest } from '../translate/header-filter.js';
import { authorAddresses, strippedOnDelivery } from '../translate/header-mapping.js';
import { MAX_HEADER_SECTION, parseHeaderSection, readHeaderSection } from '../translate/header-section.js';
import { type NextHop, pmtpToRfc5322 } from '../translate/pmtp-to-rfc5322.js';
import { TranslateError } from '../translate/translate-error.js';

export interface PulledMailDeliveryDeps {
  readonly config: Pick<Config, 'hostname' | 'domains' | 'pmtp'>;
  readonly mailboxes: MailboxDelivery;
  readonly spool: Spool;
  readonly acceptor: MessageAcceptor;
  readonly log: Logger;
  readonly now?: () => number;
}

// a mail client reads UTF-8 headers; a Postfix hop may not, so that copy is 7-bit safe
const mailboxHop: NextHop = { smtputf8: true, eightBitMime: true };
const postfixHop: NextHop = { smtputf8: false, eightBitMime: true };

export function pulledMailDelivery(deps: PulledMailDeliveryDeps): LocalDelivery {
  const now = deps.now ?? Date.now;
  // an Authentication-Results in our name came from outside: ours is the one traceFor puts on top
  const strip = strippedOnDelivery([deps.config.hostname]);
  const trustedGateways = new Set(deps.config.pmtp.trusted_gateways);
  return {
    async deliver(request) {
      const author = judgeAuthor({
        origin: request.origin,
        noticeSender: request.noticeSender,
        manifestFrom: request.manifest.from,
        headerFrom: await headerFrom(request),
        ...(request.manifest.provenance ? { provenance: request.manifest.provenance } : {}),
        trustedGateways,
      });
      const domainOf = (r: string) => r.slice(r.lastIndexOf('@') + 1).toLowerCase();
      const mailbox = request.recipients.filter((r) => deps.config.domains.mailbox.includes(domainOf(r)));
      const postfix = request.recipients.filter((r) => Object.hasOwn(deps.config.domains.postfix, domainOf(r)));
      const unknown = request.recipients.filter((r) => !mailbox.includes(r) && !postfix.includes(r));
      const results: LocalDeliveryResult[] = unknown.map((recipient) => ({
        recipient,
        status: 'rejected',
        code: 'unknown_user',
      }));

      if (mailbox.length > 0) {
        const trace = traceFor(deps, request, author, mailbox, now());
        const delivered = await deps.mailboxes.deliver(
          mailbox,
          '',
          async () => Readable.from(await rfc5322(request, trace, mailboxHop, strip)),
          `pmtp:${request.origin}:${request.manifest.id}:${request.manifest.version}`,
        );
        for (const r of delivered) {
          results.push(
            r.delivered
              ? { recipient: r.recipient, status: 'delivered' }
              : { recipient: r.recipient, status: 'deferred', code: 'internal_error', text: r.error },
          );
        }
      }
      if (postfix.length > 0) {
        try {
          const draft = await deps.spool.draft();
          await draft.writeBody(
            Readable.from(await rfc5322(request, traceFor(deps, request, author, postfix, now()), postfixHop, strip)),
          );
          const entry = await deps.acceptor.accept(draft, {
            kind: 'pmtp',
            queue: 'outbound',
            createdAt: new Date(now()).toISOString(),
            envelope: { mailFrom: request.manifest.from, rcptTo: postfix },
            pmtp: {
              id: request.manifest.id,
              version: request.manifest.version,
              origin: request.origin,
              trustClass: request.trustClass,
            },
          });
          deps.log.info(
            { queueId: entry.queueId, pmtpId: request.manifest.id, recipients: postfix.length },
            'pulled PMTP mail queued for Postfix',
          );
          results.push(...postfix.map((recipient): LocalDeliveryResult => ({ recipient, status: 'delivered' })));
        } catch (err) {
          // Redis down: the pull job waits for it and goes again in seconds (src/queue/redis-faults.ts)
          if (isRedisFault(err)) throw err;
          deps.log.warn({ err, pmtpId: request.manifest.id }, 'could not queue pulled mail for Postfix');
          results.push(
            ...postfix.map(
              (recipient): LocalDeliveryResult => ({ recipient, status: 'deferred', code: 'spool_unavailable' }),
            ),
          );
        }
      }
      return results;
    },
  };
}

/**
 * The From: addresses the mailbox will see: the original bytes' and the manifest's (the composed
 * copy's), so that neither form can name an author the other does not.
 */
async function headerFrom(request: LocalDeliveryRequest): Promise<string[]> {
  const fromValues = (fields: readonly (readonly [string, string])[]) =>
    fields.filter(([name]) => name.toLowerCase() === 'from').map(([, value]) => value);
  const manifestFrom = fromValues(request.manifest.headers);
  const found = authorAddresses(manifestFrom.length > 0 ? manifestFrom : [request.manifest.from]);
  const original = request.manifest.parts.findIndex((p) => p.role === 'original-rfc5322');
  if (original >= 0) {
    const section = await readHeaderSection(await request.openPart(original), MAX_HEADER_SECTION);
    const fields = parseHeaderSection(Buffer.from(section, 'utf8')).map((f) => [f.name, f.value] as const);
    found.push(...authorAddresses(fromValues(fields)));
  }
  return found;
}

function traceFor(
  deps: PulledMailDeliveryDeps,
  request: LocalDeliveryRequest,
  author: AuthorJudgement,
  recipients: readonly string[],
  nowMs: number,
): string[] {
  const provenance = request.manifest.provenance;
  return [
    pmtpAuthenticationResults({
      authservId: deps.config.hostname,
      result: 'pass',
      domain: request.origin,
      trust: request.trustClass,
      author: author.standing,
      ...(provenance ? { provenance: { ...provenance, trusted: author.provenanceTrusted } } : {}),
    }),
    pmtpTrustField({ trust: request.trustClass, author: author.standing, origin: request.origin }),
    receivedHeader({
      by: deps.config.hostname,
      queueId: request.queueId,
      protocol: 'PMTP',
      date: new Date(nowMs),
      recipient: recipients.length === 1 ? recipients[0] : undefined,
    }),
  ];
}

/**
 * The original SMTP bytes when the message carries them intact (so the author's DKIM still
 * verifies), otherwise MIME composed from the parts. The first chunk is read here so a failed
 * original falls back before anything is written.
 */
async function rfc5322(
  request: LocalDeliveryRequest,
  trace: string[],
  hop: NextHop,
  strip: FieldTest,
): Promise<AsyncIterable<Buffer>> {
  const read = (index: number) => streamOf(request, index);
  try {
    return await primed(pmtpToRfc5322(request.manifest, read, { trace, hop, strip }));
  } catch (err) {
    if (!(err instanceof TranslateError)) throw err;
    return pmtpToRfc5322(request.manifest, read, { trace, hop, useOriginal: false, strip });
  }
}

async function* streamOf(request: LocalDeliveryRequest, index: number): AsyncGenerator<Uint8Array> {
  yield* (await request.openPart(index)) as AsyncIterable<Uint8Array>;
}

/** Pulls the first chunk (where the original path's checks fail), then replays the whole stream. */
async function primed(source: AsyncIterable<Buffer>): Promise<AsyncIterable<Buffer>> {
  const iterator = source[Symbol.asyncIterator]();
  const first = await iterator.next();
  return (async function* () {
    if (!first.done) yield first.value;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  })();
}
