// Admission at connect time, before the greeting: relay-in admits only `smtp.relay_clients`
// (554 5.7.1), and every role caps concurrent sessions per client IP (421 4.7.0) except for the
// `smtp.limit_exceptions` (the Postfix in front, monitoring). Counts by the session's address
// (the PROXY header's when there is one), so a later XFORWARD cannot move a session between counts.

import type { SMTPServerSession } from 'smtp-server';
import type { ClientList } from './client-access.js';
import { replyError, type SmtpReplyError } from './reply-error.js';

export class ConnectionGate {
  private readonly perIp = new Map<string, number>();
  private readonly counted = new Map<string, string>(); // session id -> ip

  constructor(
    private readonly maxPerIp: number,
    /** when set, only these clients may connect at all */
    private readonly allowed: ClientList | undefined,
    /** clients the per-IP cap does not apply to */
    private readonly exempt: ClientList = { has: () => false },
  ) {}

  /** Returns the refusal, or undefined after counting the session in. */
  admit(session: SMTPServerSession): SmtpReplyError | undefined {
    const ip = session.remoteAddress;
    const refusal = this.refusalFor(ip);
    if (refusal) return replyError(refusal);
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    this.counted.set(session.id, ip);
    return undefined;
  }

  /** Whether admit() would let a client from `ip` in now (asked before its session exists). */
  wouldAdmit(ip: string): boolean {
    return this.refusalFor(ip) === undefined;
  }

  private refusalFor(ip: string): 'client_not_allowed' | 'too_many_connections' | undefined {
    if (this.allowed && !this.allowed.has(ip)) return 'client_not_allowed';
    if ((this.perIp.get(ip) ?? 0) >= this.maxPerIp && !this.exempt.has(ip)) return 'too_many_connections';
    return undefined;
  }

  release(session: SMTPServerSession): void {
    const ip = this.counted.get(session.id);
    if (ip === undefined) return;
    this.counted.delete(session.id);
    const left = (this.perIp.get(ip) ?? 1) - 1;
    if (left <= 0) this.perIp.delete(ip);
    else this.perIp.set(ip, left);
  }

  sessionsFrom(ip: string): number {
    return this.perIp.get(ip) ?? 0;
  }
}
