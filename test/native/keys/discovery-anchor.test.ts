// The HTTPS trust anchor and key-set continuity with real servers on loopback: a test CA (openssl)
// signs a certificate for a.example, trusted through egress.extra_ca_files; a plain key server serves
// a.example's key set; trust is remembered in Redis. A key set swapped for an unrelated one (with DNS
// poisoned to pin it) is refused unless the anchor lists its signer; an anchor that contradicts DNS
// refuses the domain; an anchor that cannot be had downgrades to DNS under `prefer` only.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchJson, KEY_SET_MAX_BYTES } from '../../../src/native/client/pmtp-client.js';
import { DiscoveryAnchor } from '../../../src/native/keys/discovery-anchor.js';
import { PeerDirectory } from '../../../src/native/keys/peer-directory.js';
import { formatDiscoveryRecord } from '../../../src/native/protocol/dns-discovery.js';
import {
  currentKeyEntry,
  type DomainKey,
  generateDomainKey,
  type KeySet,
  signKeySet,
} from '../../../src/native/protocol/domain-keys.js';
import { PATHS } from '../../../src/native/protocol/endpoints.js';
import { RedisPeerTrust } from '../../../src/native/state/peer-trust.js';
import { egressPolicyOf } from '../../../src/net/egress-policy.js';
import { testConfig } from '../../support/config.js';
import { deleteKeys, redisUrl, testPrefix } from '../../support/redis.js';
import { staticResolver } from '../../support/static-resolver.js';
import { tempDir } from '../../support/tmp.js';

const run = promisify(execFile);

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}

function keySetOf(keys: DomainKey[], signers = keys): KeySet {
  const now = Math.floor(Date.now() / 1000);
  return signKeySet(
    {
      v: 1,
      domain: 'a.example',
      published: now,
      keys: keys.map((k) => currentKeyEntry(k.publicKey, now + 86_400)),
      old_keys: [],
    },
    signers.map((k) => k.privateKey),
  );
}

describe('discovery anchor and key-set continuity', () => {
  const genuine = generateDomainKey();
  const attacker = generateDomainKey();
  const prefix = testPrefix();
  const redis = new Redis(redisUrl);
  let folder: Awaited<ReturnType<typeof tempDir>>;
  let caFile: string;
  let anchorServer: Server;
  let keyServer: Server;
  let anchorPort: number;
  let endpoint: string;
  /** what the servers answer; tests change them */
  let anchorDoc: unknown;
  let anchorStatus = 200;
  let served: KeySet;
  const txt: Record<string, string[][]> = {};
  const pin = (key: DomainKey) => {
    txt['_pmtp.a.example'] = [[formatDiscoveryRecord({ endpoint, fingerprint: key.keyId })]];
  };

  beforeAll(async () => {
    folder = await tempDir('anchor');
    const at = (name: string) => path.join(folder.dir, name);
    caFile = at('ca.pem');
    await run(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'].concat([
        '-days',
        '1',
        '-subj',
        '/CN=mailbridge test CA',
        '-keyout',
        at('ca.key'),
        '-out',
        caFile,
      ]),
    );
    await run(
      'openssl',
      ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'].concat([
        '-subj',
        '/CN=a.example',
        '-keyout',
        at('leaf.key'),
        '-out',
        at('leaf.csr'),
      ]),
    );
    await writeFile(at('ext.cnf'), 'subjectAltName=DNS:a.example\n');
    await run(
      'openssl',
      ['x509', '-req', '-in', at('leaf.csr'), '-CA', caFile, '-CAkey', at('ca.key')].concat([
        '-CAcreateserial',
        '-days',
        '1',
        '-extfile',
        at('ext.cnf'),
        '-out',
        at('leaf.pem'),
      ]),
    );
    anchorServer = createHttpsServer(
      { key: await readFile(at('leaf.key')), cert: await readFile(at('leaf.pem')) },
      (req, res) => {
        if (req.url !== PATHS.anchor || anchorStatus !== 200) {
          res.writeHead(anchorStatus === 200 ? 404 : anchorStatus).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(anchorDoc));
      },
    );
    anchorPort = await listen(anchorServer);
    keyServer = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(served));
    });
    endpoint = `http://127.0.0.1:${await listen(keyServer)}`;
  });
  afterAll(async () => {
    await new Promise((r) => anchorServer?.close(r));
    await new Promise((r) => keyServer?.close(r));
    await deleteKeys(prefix);
    redis.disconnect();
    await folder?.remove();
  });

  function directory(mode: 'prefer' | 'require', options: { trustCa?: boolean } = {}) {
    const config = testConfig({
      spool: { dir: folder.dir },
      pmtp: { discovery_anchor: mode },
      egress: { allow_hosts: ['127.0.0.1', 'a.example'], extra_ca_files: options.trustCa === false ? [] : [caFile] },
    });
    const egress = egressPolicyOf(config.egress);
    const trust = new RedisPeerTrust(redis, prefix);
    const nowS = () => Math.floor(Date.now() / 1000);
    const anchor = new DiscoveryAnchor({
      // the anchor's name is a.example; only the test knows it lives on a loopback port
      egress: { ...egress, resolve: async () => [{ address: '127.0.0.1', family: 4 }] },
      nowS,
      timeoutMs: 5000,
      urlFor: (domain) => `https://${domain}:${anchorPort}${PATHS.anchor}`,
    });
    const dir = new PeerDirectory({
      config,
      resolver: staticResolver({ txt }),
      fetchJson: (url) => fetchJson(url, { timeoutMs: 5000, maxBodyBytes: KEY_SET_MAX_BYTES, egress }),
      anchor,
      trust,
      nowS,
    });
    return { dir, trust, anchor };
  }

  it('confirms DNS through the anchor on first contact and remembers the trust', async () => {
    await deleteKeys(prefix);
    pin(genuine);
    served = keySetOf([genuine]);
    anchorStatus = 200;
    anchorDoc = { v: 1, domain: 'a.example', endpoint, key_ids: [genuine.keyId] };
    const { dir, trust } = directory('prefer');
    expect(await dir.discover('a.example')).toMatchObject({ endpoint, anchorKeys: [genuine.keyId] });
    await dir.keySet('a.example');
    expect(await trust.get('a.example')).toMatchObject({ keys: [genuine.keyId], via: 'anchor' });
  });

  it('refuses a key set swapped for an unrelated one, even with DNS pinning it, unless the anchor lists it', async () => {
    // the attacker poisons _pmtp and serves its own set from the same endpoint
    pin(attacker);
    served = keySetOf([attacker]);
    const first = directory('prefer');
    await expect(first.dir.keySet('a.example')).rejects.toMatchObject({ code: 'endpoint_unconfirmed' });
    // even where the anchor cannot be had, the trusted key is missing from the new set
    anchorStatus = 404;
    await expect(directory('prefer').dir.keySet('a.example')).rejects.toMatchObject({ code: 'keyset_discontinuous' });
    // the domain really re-keyed: its anchor says so, and the new set is believed
    anchorStatus = 200;
    anchorDoc = { v: 1, domain: 'a.example', endpoint, key_ids: [attacker.keyId] };
    const { dir, trust } = directory('prefer');
    expect((await dir.keySet('a.example')).keys[0]?.key_id).toBe(attacker.keyId);
    expect(await trust.get('a.example')).toMatchObject({ keys: [attacker.keyId], via: 'anchor' });
  });

  it('follows a dual-signed rotation without the anchor', async () => {
    const next = generateDomainKey();
    served = keySetOf([attacker, next]);
    anchorStatus = 404;
    const { dir, trust } = directory('prefer');
    await dir.keySet('a.example');
    expect(await trust.get('a.example')).toMatchObject({ via: 'continuity' });
  });

  it('refuses a domain whose anchor names another endpoint or does not list the DNS pin', async () => {
    await deleteKeys(prefix);
    pin(genuine);
    served = keySetOf([genuine]);
    anchorStatus = 200;
    anchorDoc = { v: 1, domain: 'a.example', endpoint: 'https://mx.a.example', key_ids: [genuine.keyId] };
    await expect(directory('prefer').dir.discover('a.example')).rejects.toMatchObject({ code: 'endpoint_unconfirmed' });
    anchorDoc = { v: 1, domain: 'a.example', endpoint, key_ids: [attacker.keyId] };
    await expect(directory('prefer').dir.discover('a.example')).rejects.toMatchObject({ code: 'endpoint_unconfirmed' });
  });

  it('downgrades to DNS when no anchor can be had under prefer, and refuses under require', async () => {
    anchorStatus = 404;
    expect(await directory('prefer').dir.discover('a.example')).toEqual({ endpoint, fingerprint: genuine.keyId });
    await expect(directory('require').dir.discover('a.example')).rejects.toMatchObject({
      code: 'endpoint_unconfirmed',
    });
  });

  it('checks the anchor certificate under the Web PKI: without the test CA there is no anchor', async () => {
    anchorStatus = 200;
    anchorDoc = { v: 1, domain: 'a.example', endpoint, key_ids: [genuine.keyId] };
    const trusted = directory('prefer');
    expect(await trusted.anchor.check('a.example', endpoint, genuine.keyId)).toMatchObject({ kind: 'confirmed' });
    const untrusted = directory('prefer', { trustCa: false });
    expect(await untrusted.anchor.check('a.example', endpoint, genuine.keyId)).toMatchObject({
      kind: 'absent',
      detail: expect.stringMatching(/certificate/i),
    });
  });
});
