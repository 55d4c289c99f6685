import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  discoveryName,
  formatDiscoveryRecord,
  parseDiscoveryRecord,
  selectDiscoveryRecord,
} from '../../../src/native/protocol/dns-discovery.js';
import { KEYS } from './fixtures.js';

const fp = KEYS.a.keyId;

describe('_pmtp TXT record', () => {
  it('parses the canonical form and its spacing variants', () => {
    const expected = { ok: true, value: { endpoint: 'https://mx.a.example:8443', fingerprint: fp } };
    expect(parseDiscoveryRecord(`v=PMTP1; e=https://mx.a.example:8443; fp=${fp}`)).toEqual(expected);
    expect(parseDiscoveryRecord(`v=PMTP1;e=https://mx.a.example:8443;fp=${fp};`)).toEqual(expected);
    expect(parseDiscoveryRecord(`  v=PMTP1 ;  fp=${fp} ; e=https://mx.a.example:8443 ; x=future`)).toEqual(expected);
  });

  it('allows http only for loopback endpoints', () => {
    expect(parseDiscoveryRecord(`v=PMTP1; e=http://127.0.0.1:2525; fp=${fp}`).ok).toBe(true);
    expect(parseDiscoveryRecord(`v=PMTP1; e=http://mx.a.example; fp=${fp}`).ok).toBe(false);
  });

  it.each([
    ['missing version', `e=https://mx.a.example; fp=${fp}`],
    ['version not first', `e=https://mx.a.example; v=PMTP1; fp=${fp}`],
    ['other version', `v=PMTP2; e=https://mx.a.example; fp=${fp}`],
    ['duplicate tag', `v=PMTP1; e=https://mx.a.example; e=https://mx2.a.example; fp=${fp}`],
    ['missing e', `v=PMTP1; fp=${fp}`],
    ['missing fp', 'v=PMTP1; e=https://mx.a.example'],
    ['path in e', `v=PMTP1; e=https://mx.a.example/pmtp; fp=${fp}`],
    ['credentials in e', `v=PMTP1; e=https://u:p@mx.a.example; fp=${fp}`],
    ['default port spelled out', `v=PMTP1; e=https://mx.a.example:443; fp=${fp}`],
    ['bad fingerprint', 'v=PMTP1; e=https://mx.a.example; fp=sha256:abc'],
    ['empty value', `v=PMTP1; e=; fp=${fp}`],
    ['tag without =', `v=PMTP1; e=https://mx.a.example; fp=${fp}; junk`],
    ['space in value', `v=PMTP1; e=https://mx.a.example; fp=${fp} x`],
  ])('rejects %s', (_, text) => {
    expect(parseDiscoveryRecord(text)).toMatchObject({ ok: false, code: 'discovery_record_invalid' });
  });

  it('format and parse are inverse (property)', () => {
    const hosts = fc.domain().filter((d) => d === d.toLowerCase());
    fc.assert(
      fc.property(
        hosts,
        fc.integer({ min: 1, max: 65535 }).filter((p) => p !== 443),
        (host, port) => {
          const record = { endpoint: `https://${host}:${port}`, fingerprint: fp };
          const parsed = parseDiscoveryRecord(formatDiscoveryRecord(record));
          if (parsed.ok) expect(parsed.value).toEqual(record);
          else expect(new URL(record.endpoint).origin).not.toBe(record.endpoint);
        },
      ),
    );
  });

  it('selects the one PMTP/1 record among TXT records, joining character-strings', () => {
    const text = formatDiscoveryRecord({ endpoint: 'https://mx.a.example', fingerprint: fp });
    const split = [text.slice(0, 10), text.slice(10)];
    expect(selectDiscoveryRecord([['v=spf1 -all'], split])).toMatchObject({ ok: true });
    expect(selectDiscoveryRecord([['v=spf1 -all']])).toMatchObject({ ok: false, code: 'discovery_record_missing' });
    expect(selectDiscoveryRecord([[text], [text]])).toMatchObject({ ok: false, code: 'discovery_record_invalid' });
    expect(discoveryName('a.example')).toBe('_pmtp.a.example');
  });
});
