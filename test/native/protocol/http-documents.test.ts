import { describe, expect, it } from 'vitest';
import {
  ackBatchSchema,
  ackResponseSchema,
  withdrawQuerySchema,
  withdrawResponseSchema,
} from '../../../src/native/protocol/ack.js';
import { errorBodySchema, PATHS, serverInfoSchema } from '../../../src/native/protocol/endpoints.js';
import { manifestDigest } from '../../../src/native/protocol/message-format.js';
import {
  hashView,
  hashViewSchema,
  isStreamView,
  signersView,
  signersViewSchema,
  VIEWS,
} from '../../../src/native/protocol/message-views.js';
import { originSignature, sampleManifest } from './fixtures.js';

const manifest = sampleManifest();
const digest = manifestDigest(manifest);

describe('JSON views', () => {
  it('hash and signers views carry the digest and signatures', () => {
    expect(hashViewSchema.parse(hashView(manifest, digest))).toEqual({
      id: manifest.id,
      version: 1,
      manifest_digest: digest,
    });
    const signers = signersView(manifest, digest, [originSignature(manifest)]);
    expect(signersViewSchema.safeParse(signers).success).toBe(true);
    expect(signersViewSchema.safeParse({ ...signers, signatures: [] }).success).toBe(false);
  });

  it('only headers, text and full are streams', () => {
    expect(VIEWS.filter(isStreamView)).toEqual(['headers', 'text', 'full']);
  });
});

describe('acks and withdrawals', () => {
  const ack = {
    origin: 'b.example',
    destination: 'a.example',
    acks: [
      {
        id: manifest.id,
        version: 1,
        manifest_digest: digest,
        recipients: [{ recipient: 'bob@b.example', result: 'delivered' }],
      },
    ],
  };

  it('parses acks and their answers', () => {
    expect(ackBatchSchema.safeParse(ack).success).toBe(true);
    const rejected = { recipient: 'bob@b.example', result: 'rejected', code: 'content_rejected', text: 'no' };
    expect(ackBatchSchema.safeParse({ ...ack, acks: [{ ...ack.acks[0], recipients: [rejected] }] }).success).toBe(true);
    expect(
      ackBatchSchema.safeParse({
        ...ack,
        acks: [{ ...ack.acks[0], recipients: [{ recipient: 'bob@b.example', result: 'read' }] }],
      }).success,
    ).toBe(false);
    expect(
      ackResponseSchema.safeParse({ results: [{ id: manifest.id, version: 1, status: 'recorded' }] }).success,
    ).toBe(true);
  });

  it('parses withdrawal queries from URL strings', () => {
    expect(withdrawQuerySchema.parse({ version: '2', reason: 'retracted' })).toEqual({
      version: 2,
      reason: 'retracted',
    });
    expect(withdrawQuerySchema.safeParse({ version: '0', reason: 'retracted' }).success).toBe(false);
    expect(withdrawQuerySchema.safeParse({ version: '1', reason: 'bored' }).success).toBe(false);
    const answer = { id: manifest.id, version: 1, recipients: [{ recipient: 'bob@b.example', outcome: 'too_late' }] };
    expect(withdrawResponseSchema.safeParse(answer).success).toBe(true);
  });
});

describe('endpoints', () => {
  it('names the paths', () => {
    expect(PATHS.part(manifest.id, 2)).toBe(`/pmtp/v1/messages/${manifest.id}/parts/2`);
    expect(PATHS.status('c00kie')).toBe('/pmtp/v1/status/c00kie');
  });

  it('validates server info and error bodies', () => {
    const info = {
      v: 1,
      protocol: 'PMTP/1',
      max_batch: 50,
      max_recipients: 1000,
      max_message_bytes: 1 << 20,
      max_pow_bits: 24,
      views: [...VIEWS],
    };
    expect(serverInfoSchema.safeParse(info).success).toBe(true);
    expect(serverInfoSchema.safeParse({ ...info, max_batch: 0 }).success).toBe(false);
    expect(errorBodySchema.parse({ error: { code: 'not_notified', message: 'no', retryable: false } })).toEqual({
      error: { code: 'not_notified', message: 'no', retryable: false },
    });
    expect(
      errorBodySchema.safeParse({ error: { code: 'Not Notified', message: 'no', retryable: false } }).success,
    ).toBe(false);
  });
});
