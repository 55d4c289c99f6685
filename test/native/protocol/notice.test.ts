import { describe, expect, it } from 'vitest';
import { signDelegation } from '../../../src/native/protocol/delegation.js';
import { fetchUrl, keysUrl } from '../../../src/native/protocol/endpoints.js';
import { contentSize, manifestDigest } from '../../../src/native/protocol/message-format.js';
import {
  batchResponseSchema,
  checkNotice,
  dispositionSchema,
  type Notice,
  parseNoticeBatch,
  statusResponseSchema,
} from '../../../src/native/protocol/notice.js';
import { issueChallenge } from '../../../src/native/protocol/proof-of-work.js';
import { KEYS, NOW, sampleManifest } from './fixtures.js';

const manifest = sampleManifest();
const endpoint = 'https://mx.a.example';
const notice: Notice = {
  id: manifest.id,
  version: 1,
  size: contentSize(manifest),
  manifest_digest: manifestDigest(manifest),
  sender: 'alice@a.example',
  recipients: ['bob@b.example', 'carol@B.example'],
  expires: NOW + 5 * 86_400,
  fetch: fetchUrl(endpoint, manifest.id),
};
const batch = { origin: 'a.example', destination: 'b.example', notices: [notice] };
const context = { signedBy: 'a.example', domain: 'b.example', maxBatch: 50, maxBatchRecipients: 1000 };

describe('notice batches', () => {
  it('accepts a well-formed batch', () => {
    expect(parseNoticeBatch(batch, context)).toMatchObject({ ok: true });
  });

  it('refuses what the signer or the receiver does not match', () => {
    expect(parseNoticeBatch(batch, { ...context, signedBy: 'c.example' })).toMatchObject({ code: 'wrong_origin' });
    expect(parseNoticeBatch(batch, { ...context, domain: 'c.example' })).toMatchObject({ code: 'wrong_destination' });
  });

  it('enforces the announced batch size and (id, version) uniqueness', () => {
    expect(
      parseNoticeBatch({ ...batch, notices: [notice, { ...notice, version: 2 }] }, { ...context, maxBatch: 1 }),
    ).toMatchObject({
      code: 'batch_too_large',
    });
    expect(parseNoticeBatch({ ...batch, notices: [notice, notice] }, context)).toMatchObject({ code: 'batch_invalid' });
    expect(parseNoticeBatch({ ...batch, notices: [notice, { ...notice, version: 2 }] }, context).ok).toBe(true);
  });

  it.each([
    ['no notices', { ...batch, notices: [] }],
    ['bad digest', { ...batch, notices: [{ ...notice, manifest_digest: 'x' }] }],
    ['no recipients', { ...batch, notices: [{ ...notice, recipients: [] }] }],
    ['upper-case origin', { ...batch, origin: 'A.example' }],
  ])('rejects %s', (_, body) => {
    expect(parseNoticeBatch(body, context)).toMatchObject({ ok: false, code: 'batch_invalid' });
  });
});

describe('checkNotice', () => {
  const ctx = { destination: 'b.example', now: NOW, maxLifetimeS: 30 * 86_400, originEndpoint: endpoint };
  it('accepts recipients of the destination domain, any case', () => {
    expect(checkNotice(notice, ctx).ok).toBe(true);
  });

  it.each([
    ['recipient_wrong_domain', { recipients: ['bob@c.example'] }, {}],
    ['duplicate_recipient', { recipients: ['bob@b.example', 'bob@B.EXAMPLE'] }, {}],
    ['notice_expired', {}, { now: NOW + 6 * 86_400 }],
    ['notice_lifetime_too_long', { expires: NOW + 31 * 86_400 }, {}],
    ['notice_lifetime_too_long', {}, { maxLifetimeS: 86_400 }],
    ['fetch_url_invalid', { fetch: 'https://evil.example/pmtp/v1/messages/x' }, {}],
    ['fetch_url_invalid', {}, { originEndpoint: 'https://mx2.a.example' }],
  ])('reports %s', (code, change, ctxChange) => {
    expect(checkNotice({ ...notice, ...change }, { ...ctx, ...ctxChange })).toMatchObject({ ok: false, code });
  });
});

describe('dispositions', () => {
  const challenge = issueChallenge({
    bits: 8,
    salt: Buffer.alloc(16),
    noticeId: notice.id,
    sender: notice.sender,
    recipient: 'bob@b.example',
    expires: NOW + 60,
    secret: Buffer.alloc(32),
  });
  const delegation = signDelegation({
    domain: 'b.example',
    recipient: 'bob@b.example',
    endpoint: 'https://mx2.b.example',
    delegateKey: KEYS.g.publicKey,
    expires: NOW + 60,
    privateKey: KEYS.b.privateKey,
  });
  const all = [
    { disposition: 'accepted' },
    { disposition: 'deferred', cookie: 'c00kie-c00kie-c00kie', min_poll_s: 60, max_poll_s: 3600 },
    { disposition: 'challenge', challenge },
    { disposition: 'redirect', endpoint: 'https://mx2.b.example', delegation },
    { disposition: 'rejected', code: 'recipient_unknown', text: 'No such user' },
  ];

  it('parses every variant and a batch response mixing results and errors', () => {
    for (const d of all) expect(dispositionSchema.safeParse(d).success).toBe(true);
    const response = {
      results: [
        { id: notice.id, version: 1, recipients: all.map((d) => ({ recipient: 'bob@b.example', ...d })) },
        { id: notice.id, version: 2, error: { code: 'notice_expired', message: 'expired', retryable: false } },
      ],
    };
    expect(batchResponseSchema.safeParse(response).success).toBe(true);
    expect(
      statusResponseSchema.safeParse({ id: notice.id, version: 1, recipient: 'bob@b.example', ...all[1] }).success,
    ).toBe(true);
  });

  it('leaves a redirect proof to the per-recipient check (§13.5), so a bad one fails one recipient', () => {
    const { recipient: _, ...wide } = delegation;
    const redirect = { disposition: 'redirect', endpoint: 'https://mx2.b.example', delegation: wide };
    expect(dispositionSchema.safeParse(redirect).success).toBe(true);
    expect(dispositionSchema.safeParse({ ...redirect, delegation: 'x' }).success).toBe(false);
  });

  it.each([
    ['unknown disposition', { disposition: 'maybe' }],
    ['min above max', { disposition: 'deferred', cookie: 'c00kie-c00kie-c00kie', min_poll_s: 600, max_poll_s: 60 }],
    ['short cookie', { disposition: 'deferred', cookie: 'c', min_poll_s: 1, max_poll_s: 1 }],
    ['redirect without proof', { disposition: 'redirect', endpoint: 'https://mx2.b.example' }],
    ['plain-http redirect', { disposition: 'redirect', endpoint: 'http://mx2.b.example', delegation }],
    ['bad rejection code', { disposition: 'rejected', code: 'Bad Code', text: '' }],
  ])('rejects %s', (_, d) => {
    expect(dispositionSchema.safeParse(d).success).toBe(false);
  });
});

describe('endpoint URLs', () => {
  it('builds fetch and key set URLs under the endpoint origin', () => {
    expect(fetchUrl('https://mx.a.example:8443', 'q7Jt3nX0bWc1yZ9aKm4LpA')).toBe(
      'https://mx.a.example:8443/pmtp/v1/messages/q7Jt3nX0bWc1yZ9aKm4LpA',
    );
    expect(keysUrl('https://mx.a.example', 'a.example')).toBe(
      'https://mx.a.example/.well-known/pmtp/keys?domain=a.example',
    );
  });
});
