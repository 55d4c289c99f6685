// Two real gateways discovering each other by DNS while a.example rotates its key with
// `mailbridge keys rotate` (the §8.3 dual-signed overlap) and mail keeps flowing: no request is
// refused and no notice job fails at any step. Then `keys revoke`: a request signed by the revoked
// key is refused with key_revoked once the peer's cached key set has aged out.
import { createPrivateKey } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runKeyRing } from '../../../src/cli/key-ring.js';
import { readRingFile } from '../../../src/native/keys/key-ring-file.js';
import { ringConfigOf } from '../../../src/native/keys/local-keys.js';
import { formatDiscoveryRecord } from '../../../src/native/protocol/dns-discovery.js';
import { domainKeyFromSeed, generateDomainKey } from '../../../src/native/protocol/domain-keys.js';
import { rawSeed } from '../../../src/native/protocol/ed25519.js';
import { fetchUrl, PATHS } from '../../../src/native/protocol/endpoints.js';
import { RedisPeerTrust } from '../../../src/native/state/peer-trust.js';
import { freePort } from '../../support/smtp-sink.js';
import { staticResolver } from '../../support/static-resolver.js';
import { type PmtpNode, startNode, textMessage, until } from './harness.js';
import { send, signedCall } from './raw-request.js';

const OVERLAP_S = 7200;

/** Log lines of both nodes, to count refusals and failed jobs. */
function recorder() {
  const lines: { msg: string; code?: string }[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, log: pino({ level: 'info' }, stream) };
}

describe('key rotation and revocation between two gateways', () => {
  let a: PmtpNode;
  let b: PmtpNode;
  let offsetS = 0;
  const now = () => Date.now() + offsetS * 1000;
  const nowS = () => Math.floor(now() / 1000);
  const txt: Record<string, string[][]> = {};
  const { lines, log } = recorder();
  const aKey = generateDomainKey();

  beforeAll(async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    const bKey = generateDomainKey();
    txt['_pmtp.a.example'] = [[formatDiscoveryRecord({ endpoint: `http://127.0.0.1:${pa}`, fingerprint: aKey.keyId })]];
    txt['_pmtp.b.example'] = [[formatDiscoveryRecord({ endpoint: `http://127.0.0.1:${pb}`, fingerprint: bKey.keyId })]];
    const resolver = staticResolver({ txt });
    const common = { peers: {}, resolver, now, log, pmtp: { key_overlap_s: OVERLAP_S } };
    a = await startNode({ ...common, domain: 'a.example', port: pa, key: aKey });
    b = await startNode({ ...common, domain: 'b.example', port: pb, key: bKey });
  });
  afterAll(async () => Promise.all([a?.close(), b?.close()]));

  async function deliver(text: string): Promise<void> {
    const msg = textMessage('alice@a.example', 'bob@b.example', text);
    const sent = await a.service.outbox.submit({
      manifest: msg.manifest,
      body: msg.body,
      recipients: ['bob@b.example'],
    });
    await until(async () => (await a.service.context.status.get(sent.id))[0]?.state === 'delivered');
  }

  async function keysCli(argv: { action: 'rotate' } | { action: 'revoke'; keyId: string }): Promise<string> {
    let out = '';
    const sink = new Writable({
      write(chunk, _enc, done) {
        out += String(chunk);
        done();
      },
    });
    const code = await runKeyRing(a.config, argv, sink, nowS());
    expect(code, out).toBe(0);
    // what the gateway's reload timer does within seconds
    await a.service.context.keys.reload();
    return out;
  }

  const refusals = () => lines.filter((l) => l.msg === 'pmtp request refused' || l.msg === 'pmtp job failed');

  it('rotates with no refused request while mail flows, the peer following by continuity', async () => {
    await deliver('before the rotation\r\n');
    const oldKeyId = a.service.context.keys.current.keyId;
    const printed = await keysCli({ action: 'rotate' });
    const newKeyId = /fp=(ed25519:[\w-]+)/.exec(printed)?.[1];
    expect(newKeyId).toBeDefined();
    expect(newKeyId).not.toBe(oldKeyId);

    // both keys published and both sign the set; the old one still signs requests
    const served = a.service.context.keys.keySet(nowS());
    expect(served.keys.map((k) => k.key_id).sort()).toEqual([oldKeyId, newKeyId].sort());
    expect(served.signatures.map((s) => s.key_id).sort()).toEqual([oldKeyId, newKeyId].sort());
    await deliver('new key published\r\n');
    // the anchor document the gateway offers names both signers during the overlap
    const anchor = (await (await fetch(`${a.endpoint}${PATHS.anchor}`)).json()) as { key_ids: string[] };
    expect(anchor.key_ids.sort()).toEqual([oldKeyId, newKeyId].sort());

    // the operator publishes the new pin during the overlap, as `keys rotate` printed
    txt['_pmtp.a.example'] = [[/"(v=PMTP1;[^"]+)"/.exec(printed)![1]!]];
    offsetS += 3700; // b's cached key set and discovery age out: it refetches and follows by continuity
    await deliver('half way through the overlap\r\n');
    offsetS += 3700; // past the switch: the new key signs requests
    expect(a.service.context.keys.current.keyId).toBe(newKeyId);
    await deliver('signed by the new key\r\n');
    offsetS += 7300; // past retirement: the old key is only in old_keys
    const retired = a.service.context.keys.keySet(nowS());
    expect(retired.keys.map((k) => k.key_id)).toEqual([newKeyId]);
    expect(retired.old_keys.map((k) => k.key_id)).toEqual([oldKeyId]);
    await deliver('after the old key retired\r\n');

    expect(refusals()).toEqual([]);
    const trust = await new RedisPeerTrust(b.redis, b.config.redis.prefix).get('a.example');
    expect(trust).toMatchObject({ keys: [newKeyId], via: 'continuity' });
  });

  it('refuses a request signed by a revoked key with key_revoked', async () => {
    const signing = a.service.context.keys.current.keyId;
    await keysCli({ action: 'rotate' });
    offsetS += 3700; // b refetches and now trusts both keys: the new one can carry trust past the revocation
    await deliver('new key published\r\n');
    // revoking the signing key mid-rotation hands signing to the new key at once
    await keysCli({ action: 'revoke', keyId: signing });
    expect(a.service.context.keys.current.keyId).not.toBe(signing);
    expect(a.service.context.keys.keySet(nowS()).revoked).toEqual([{ key_id: signing, revoked_at: nowS() }]);
    txt['_pmtp.a.example'] = [
      [formatDiscoveryRecord({ endpoint: a.endpoint, fingerprint: a.service.context.keys.current.keyId })],
    ];
    offsetS += 3700; // b's cached set (which still trusts the key) ages out
    await deliver('after the revocation\r\n');
    expect(refusals()).toEqual([]);

    // a stolen copy of the revoked key (from a's ring file), used against b
    const ring = await readRingFile(ringConfigOf(a.config, 'a.example').paths.ringFile as string);
    const stolen = domainKeyFromSeed(
      rawSeed(createPrivateKey(ring?.keys.find((k) => k.key_id === signing)?.private_key ?? '')),
    );
    expect(stolen.keyId).toBe(signing);
    const id = 'revokedkeyprobexxxxxxx';
    const call = signedCall({
      key: stolen,
      origin: 'a.example',
      destination: 'b.example',
      method: 'POST',
      url: `${b.endpoint}${PATHS.notices}`,
      created: nowS(),
      body: {
        origin: 'a.example',
        destination: 'b.example',
        notices: [
          {
            id,
            version: 1,
            size: 3,
            manifest_digest: 'MeH6W6ozcsF7YCOc5yXsM5pY0T_xMCgxJQyloamE_O4',
            sender: 'alice@a.example',
            recipients: ['bob@b.example'],
            expires: nowS() + 3600,
            fetch: fetchUrl(a.endpoint, id),
          },
        ],
      },
    });
    const answer = await send(call);
    expect(answer.status, JSON.stringify(answer.json)).toBe(401);
    expect(answer.json.error.code).toBe('key_revoked');
  });
});
