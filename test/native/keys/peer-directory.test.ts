// Peer discovery and key sets: the static directory overrides DNS, `_pmtp` TXT gives endpoint and
// pin, a key set signed by another key than the pin is refused, and an unknown key id triggers
// at most one refetch a minute.
import { describe, expect, it } from 'vitest';
import { keySourceFailure, PeerDirectory } from '../../../src/native/keys/peer-directory.js';
import { formatDiscoveryRecord } from '../../../src/native/protocol/dns-discovery.js';
import {
  currentKeyEntry,
  generateDomainKey,
  type KeySet,
  signKeySet,
} from '../../../src/native/protocol/domain-keys.js';
import { PmtpRequestError } from '../../../src/native/protocol/pmtp-request-error.js';
import { testConfig } from '../../support/config.js';
import { staticResolver } from '../../support/static-resolver.js';
import { KEYS, NOW } from '../protocol/fixtures.js';

function keySetOf(key: typeof KEYS.a, domain = 'a.example'): KeySet {
  return signKeySet(
    { v: 1, domain, published: NOW, keys: [currentKeyEntry(key.publicKey, NOW + 86_400)], old_keys: [] },
    [key.privateKey],
  );
}

function directory(options: {
  directory?: Record<string, unknown>;
  txt?: Record<string, string[][]>;
  documents?: Record<string, unknown>;
  now?: () => number;
}) {
  const fetched: string[] = [];
  const config = testConfig({ spool: { dir: '/tmp' }, pmtp: { directory: options.directory ?? {} } });
  const dir = new PeerDirectory({
    config,
    resolver: staticResolver({ txt: options.txt ?? {} }),
    fetchJson: async (url) => {
      fetched.push(url);
      return options.documents?.[url];
    },
    nowS: options.now ?? (() => NOW),
  });
  return { dir, fetched };
}

describe('PeerDirectory', () => {
  it('discovers by DNS, verifies the pinned key set and looks keys up', async () => {
    const record = formatDiscoveryRecord({ endpoint: 'https://mx.a.example', fingerprint: KEYS.a.keyId });
    const { dir, fetched } = directory({
      txt: { '_pmtp.a.example': [[record]] },
      documents: { 'https://mx.a.example/.well-known/pmtp/keys?domain=a.example': keySetOf(KEYS.a) },
    });
    expect(await dir.endpointOf('a.example')).toBe('https://mx.a.example');
    expect(await dir.keyLookup('a.example', KEYS.a.keyId, NOW)).toEqual(KEYS.a.publicKey);
    expect(await dir.keyLookup('a.example', KEYS.a.keyId, NOW)).toEqual(KEYS.a.publicKey);
    expect(fetched).toHaveLength(1);
  });

  it('gives a held key from the cached set alone, never fetching', async () => {
    const record = formatDiscoveryRecord({ endpoint: 'https://mx.a.example', fingerprint: KEYS.a.keyId });
    const { dir, fetched } = directory({
      txt: { '_pmtp.a.example': [[record]] },
      documents: { 'https://mx.a.example/.well-known/pmtp/keys?domain=a.example': keySetOf(KEYS.a) },
    });
    expect(dir.heldKey('a.example', KEYS.a.keyId, NOW)).toBeUndefined();
    expect(fetched).toHaveLength(0);
    await dir.keySet('a.example');
    expect(dir.heldKey('a.example', KEYS.a.keyId, NOW)).toEqual(KEYS.a.publicKey);
    // another key id, or a time after the key's validity: not held (a delegate or a refetch may still answer)
    expect(dir.heldKey('a.example', KEYS.b.keyId, NOW)).toBeUndefined();
    expect(dir.heldKey('a.example', KEYS.a.keyId, NOW + 86_401)).toBeUndefined();
    expect(fetched).toHaveLength(1);
  });

  it('remembers a failed key fetch for a minute, so repeated requests naming the domain fetch once', async () => {
    let now = NOW;
    const record = formatDiscoveryRecord({ endpoint: 'https://mx.a.example', fingerprint: KEYS.a.keyId });
    const { dir, fetched } = directory({ txt: { '_pmtp.a.example': [[record]] }, now: () => now });
    // the endpoint answers nothing that is a key set
    const refused = { code: 'keyset_malformed', retryable: false };
    for (let i = 0; i < 5; i++) await expect(dir.keySet('a.example')).rejects.toMatchObject(refused);
    expect(fetched).toHaveLength(1);
    now += 61;
    await expect(dir.keySet('a.example')).rejects.toMatchObject(refused);
    expect(fetched).toHaveLength(2);
  });

  it('refuses a key set not signed by the pinned key', async () => {
    const record = formatDiscoveryRecord({ endpoint: 'https://mx.a.example', fingerprint: KEYS.aOld.keyId });
    const { dir } = directory({
      txt: { '_pmtp.a.example': [[record]] },
      documents: { 'https://mx.a.example/.well-known/pmtp/keys?domain=a.example': keySetOf(KEYS.a) },
    });
    await expect(dir.keySet('a.example')).rejects.toMatchObject({ code: 'keyset_unpinned', retryable: false });
    expect(await dir.keyLookup('a.example', KEYS.a.keyId, NOW)).toBeUndefined();
  });

  it('lets the static directory override DNS; entries with keys need no fetch', async () => {
    const { dir, fetched } = directory({
      directory: {
        'a.example': {
          endpoint: 'http://127.0.0.1:9',
          keys: [{ id: KEYS.a.keyId, public_key: KEYS.a.publicKey.toString('base64url') }],
        },
      },
      txt: {
        '_pmtp.a.example': [
          [formatDiscoveryRecord({ endpoint: 'https://elsewhere.example', fingerprint: KEYS.a.keyId })],
        ],
      },
    });
    expect(await dir.endpointOf('a.example')).toBe('http://127.0.0.1:9');
    expect(await dir.keyLookup('a.example', KEYS.a.keyId, NOW)).toEqual(KEYS.a.publicKey);
    expect(fetched).toEqual([]);
  });

  it('answers discovery_record_missing for a domain without PMTP', async () => {
    const { dir } = directory({});
    await expect(dir.endpointOf('legacy.example')).rejects.toMatchObject({
      code: 'discovery_record_missing',
      retryable: false,
    });
  });

  it('refetches on an unknown key id at most once a minute', async () => {
    let now = NOW;
    const fresh = generateDomainKey();
    const url = 'https://mx.a.example/.well-known/pmtp/keys?domain=a.example';
    const documents: Record<string, unknown> = { [url]: keySetOf(KEYS.a) };
    const { dir, fetched } = directory({
      directory: { 'a.example': { endpoint: 'https://mx.a.example' } },
      documents,
      now: () => now,
    });
    await dir.keySet('a.example');
    documents[url] = signKeySet(
      {
        v: 1,
        domain: 'a.example',
        published: NOW,
        keys: [currentKeyEntry(KEYS.a.publicKey, NOW + 86_400), currentKeyEntry(fresh.publicKey, NOW + 86_400)],
        old_keys: [],
      },
      [KEYS.a.privateKey],
    );
    expect(await dir.keyLookup('a.example', fresh.keyId, now)).toBeUndefined();
    now += 61;
    expect(await dir.keyLookup('a.example', fresh.keyId, now)).toEqual(fresh.publicKey);
    expect(fetched).toHaveLength(2);
  });

  it('names why an origin has no key set: lasting failures keep their code, a non-key-set answer is malformed, the rest is transient', async () => {
    const { dir } = directory({
      txt: { '_pmtp.bad.example': [['v=PMTP1; e=ftp://x; fp=nope']] },
    });
    const failureOf = (domain: string) => dir.keySet(domain).then(() => 'ok', keySourceFailure);
    expect(await failureOf('legacy.example')).toBe('discovery_record_missing');
    expect(await failureOf('bad.example')).toBe('discovery_record_invalid');
    const lasting = new PmtpRequestError('egress_refused', 'GET http://10.0.0.1: private', false);
    expect(keySourceFailure(lasting)).toBe('egress_refused');
    // the key endpoint answered 404 with its own code: whatever it was, it is not a key set
    expect(keySourceFailure(new PmtpRequestError('message_not_found', 'no keys', false, 404))).toBe('keyset_malformed');
    expect(keySourceFailure(new PmtpRequestError('connection_failed', 'ECONNRESET', true))).toBe('key_fetch_failed');
    expect(keySourceFailure(new PmtpRequestError('route_lookup_failed', 'SERVFAIL', true))).toBe('key_fetch_failed');
    expect(keySourceFailure(new Error('bug'))).toBe('key_fetch_failed');
  });
});
