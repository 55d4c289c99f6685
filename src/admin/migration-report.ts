// The migration report: which correspondents speak PMTP, how much mail went each way over which
// protocol, how first contact went, and the legacy-only domains to move next, biggest first.
// Pure: built from the traffic ledger's per-domain totals (src/observability/traffic-ledger.ts).

import type { PeerTraffic } from '../observability/traffic-ledger.js';

export interface PeerRow extends PeerTraffic {
  /** `pmtp` once any mail went either way over PMTP; `legacy` for SMTP only */
  readonly protocol: 'pmtp' | 'legacy';
  readonly totalMessages: number;
}

export interface MigrationReport {
  readonly days: number;
  readonly peers: readonly PeerRow[];
  readonly totals: { readonly smtpMessages: number; readonly pmtpMessages: number; readonly pmtpShare: number };
  /** legacy-only domains by messages both ways, most first */
  readonly migrateNext: readonly { readonly domain: string; readonly messages: number }[];
}

export function migrationReport(peers: readonly PeerTraffic[], days: number, topN = 10): MigrationReport {
  const rows: PeerRow[] = peers.map((p) => {
    const pmtp = p.messages.in.pmtp + p.messages.out.pmtp;
    const smtp = p.messages.in.smtp + p.messages.out.smtp;
    const spoke = pmtp > 0 || Object.values(p.firstContact.sent).some((n) => (n ?? 0) > 0);
    return { ...p, protocol: spoke ? 'pmtp' : 'legacy', totalMessages: pmtp + smtp };
  });
  const smtpMessages = sum(rows.map((r) => r.messages.in.smtp + r.messages.out.smtp));
  const pmtpMessages = sum(rows.map((r) => r.messages.in.pmtp + r.messages.out.pmtp));
  const all = smtpMessages + pmtpMessages;
  return {
    days,
    peers: [...rows].sort((a, b) => b.totalMessages - a.totalMessages || a.domain.localeCompare(b.domain)),
    totals: { smtpMessages, pmtpMessages, pmtpShare: all === 0 ? 0 : pmtpMessages / all },
    migrateNext: rows
      .filter((r) => r.protocol === 'legacy' && r.totalMessages > 0)
      .sort((a, b) => b.totalMessages - a.totalMessages || a.domain.localeCompare(b.domain))
      .slice(0, topN)
      .map((r) => ({ domain: r.domain, messages: r.totalMessages })),
  };
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
