// The migration report and the bounded per-domain metric rows, from ledger totals: a domain is
// PMTP once any mail or notice answer went over PMTP, the share adds up, and the legacy domains to
// migrate next are ranked by volume; the metric keeps the top N and adds the rest up as (other).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { migrationReport } from '../../src/admin/migration-report.js';
import { boundedPeers } from '../../src/observability/metrics.js';
import { otherDomains, type PeerTraffic } from '../../src/observability/traffic-ledger.js';

function peer(
  domain: string,
  m: { inSmtp?: number; outSmtp?: number; inPmtp?: number; outPmtp?: number },
): PeerTraffic {
  return {
    domain,
    messages: { in: { smtp: m.inSmtp ?? 0, pmtp: m.inPmtp ?? 0 }, out: { smtp: m.outSmtp ?? 0, pmtp: m.outPmtp ?? 0 } },
    bytes: { in: { smtp: 0, pmtp: 0 }, out: { smtp: 0, pmtp: 0 } },
    firstContact: { received: {}, sent: {} },
  };
}

describe('migration report', () => {
  it('classifies, totals and ranks', () => {
    const report = migrationReport(
      [
        peer('small.example', { inSmtp: 1 }),
        peer('big.example', { inSmtp: 5, outSmtp: 4 }),
        peer('native.example', { outPmtp: 3, inSmtp: 1 }),
        { ...peer('asked.example', {}), firstContact: { received: {}, sent: { challenged: 1 } } },
      ],
      7,
    );
    expect(report.peers.map((p) => [p.domain, p.protocol])).toEqual([
      ['big.example', 'legacy'],
      ['native.example', 'pmtp'],
      ['small.example', 'legacy'],
      ['asked.example', 'pmtp'],
    ]);
    expect(report.totals).toEqual({ smtpMessages: 11, pmtpMessages: 3, pmtpShare: 3 / 14 });
    expect(report.migrateNext).toEqual([
      { domain: 'big.example', messages: 9 },
      { domain: 'small.example', messages: 1 },
    ]);
    expect(migrationReport([], 7).totals.pmtpShare).toBe(0);
  });

  it('bounded metric rows keep every message and at most top + 1 rows', () => {
    const peers = fc.uniqueArray(fc.record({ domain: fc.domain(), n: fc.nat(50), pmtp: fc.nat(50) }), {
      selector: (p) => p.domain,
      maxLength: 40,
    });
    fc.assert(
      fc.property(peers, fc.integer({ min: 1, max: 30 }), (list, top) => {
        const input = list.map((p) => peer(p.domain, { inSmtp: p.n, outPmtp: p.pmtp }));
        const rows = boundedPeers(input, top);
        expect(rows.length).toBeLessThanOrEqual(top + 1);
        const sum = (ps: PeerTraffic[]) => ps.reduce((s, p) => s + p.messages.in.smtp + p.messages.out.pmtp, 0);
        expect(sum(rows)).toBe(sum(input));
        expect(rows.filter((r) => r.domain === otherDomains).length).toBeLessThanOrEqual(1);
      }),
    );
  });
});
