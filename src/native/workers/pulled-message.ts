// Client side of a pull: fetch a view, feed it through MessageStreamReader with the announced
// digest, verify the head (signatures, origin alignment, serving domain = notifying origin) before
// any part is kept, and stream part octets into a spool draft. Returns the verified head.
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type { SpoolDraft } from '../../spool/spool.js';
import { JSON_MAX_BYTES } from '../client/pmtp-client.js';
import type { PmtpContext } from '../pmtp-context.js';
import { MESSAGE_STREAM_TYPE, PATHS } from '../protocol/endpoints.js';
import { type MessageHead, MessageStreamReader } from '../protocol/message-framing.js';
import { originAligned, verifyManifestSignatures } from '../protocol/message-signature.js';
import type { StreamView } from '../protocol/message-views.js';

/** The parts of the PMTP context this file uses. */
export type PullViewDeps = Pick<PmtpContext, 'client' | 'directory' | 'nowS'>;

export type PullFailure = { ok: false; code: 'message_invalid' | 'origin_unaligned'; detail: string; retry: boolean };
export type PullSuccess = { ok: true; head: MessageHead };

export async function pullView(
  rt: PullViewDeps,
  input: {
    origin: string;
    id: string;
    version: number;
    digest: string;
    view: StreamView;
    draft?: SpoolDraft;
    maxBytes: number;
  },
): Promise<PullSuccess | PullFailure> {
  const { origin, id, version, digest, view } = input;
  const raw = await rt.client.open({
    destination: origin,
    method: 'GET',
    path: `${PATHS.message(id)}?view=${view}&version=${version}`,
    // the message itself plus its head frame and framing, which JSON's cap bounds
    maxBodyBytes: input.maxBytes + JSON_MAX_BYTES,
  });
  if (!(raw.headers.get('content-type') ?? '').startsWith(MESSAGE_STREAM_TYPE)) {
    return { ok: false, code: 'message_invalid', detail: 'not a message stream', retry: false };
  }
  const reader = new MessageStreamReader({ expectedDigest: digest, view });
  const sink = new PassThrough();
  const writing = input.draft ? input.draft.writeBody(sink, input.maxBytes) : Promise.resolve(0);
  writing.catch(() => undefined);
  let head: MessageHead | undefined;
  let failure: PullFailure | undefined;
  const handle = async (events: ReturnType<MessageStreamReader['push']>) => {
    for (const event of events) {
      if (event.type === 'error')
        failure = {
          ok: false,
          code: 'message_invalid',
          detail: `${event.code}: ${event.detail}`,
          retry: event.code === 'truncated',
        };
      else if (event.type === 'head') {
        head = event.head;
        const verdict = await verifyManifestSignatures({
          manifestDigest: event.manifestDigest,
          signatures: head.signatures,
          keyLookup: rt.directory.keyLookup,
          now: rt.nowS(),
        });
        if (!verdict.ok)
          failure = {
            ok: false,
            code: 'message_invalid',
            detail: `signatures: ${verdict.checks.map((c) => c.status).join(',')}`,
            retry: false,
          };
        else if (!originAligned(head.manifest, verdict.origin ?? ''))
          failure = {
            ok: false,
            code: 'origin_unaligned',
            detail: `origin ${verdict.origin} vs from ${head.manifest.from}`,
            retry: false,
          };
        else if (verdict.servingDomain !== origin)
          failure = {
            ok: false,
            code: 'message_invalid',
            detail: `served by ${origin}, signed for ${verdict.servingDomain}`,
            retry: false,
          };
      } else if (event.type === 'part-data' && input.draft && !sink.write(event.data)) await once(sink, 'drain');
      if (failure) return;
    }
  };
  try {
    for await (const chunk of raw.response.body ?? []) {
      await handle(reader.push(chunk as Uint8Array));
      if (failure) break;
    }
    if (!failure) await handle(reader.finish());
  } catch (err) {
    failure = { ok: false, code: 'message_invalid', detail: `truncated: ${String(err)}`, retry: true };
  }
  if (failure) {
    sink.destroy();
    await input.draft?.discard();
    await raw.response.body?.cancel().catch(() => undefined);
    return failure;
  }
  sink.end();
  await writing;
  return head ? { ok: true, head } : { ok: false, code: 'message_invalid', detail: 'no head', retry: false };
}
