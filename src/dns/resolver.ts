// The DNS questions mailbridge asks, behind one small interface: the system resolver in
// production, an RFC 1035 zone file offline (staging and tests). mailauth takes `resolve`.

import { promises as dns } from 'node:dns';

export interface MxRecord {
  readonly exchange: string;
  readonly priority: number;
}

/** Errors carry Node's DNS codes (`ENOTFOUND`, `ENODATA`, `ESERVFAIL`) so callers tell "none" from "try later". */
export interface MailResolver {
  resolveTxt(name: string): Promise<string[][]>;
  resolveMx(name: string): Promise<MxRecord[]>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
  /** mailauth's resolver signature: `resolve(name, rrtype)` */
  resolve(name: string, rrtype: string): Promise<unknown>;
}

export function systemResolver(): MailResolver {
  return {
    resolveTxt: (name) => dns.resolveTxt(name),
    resolveMx: (name) => dns.resolveMx(name),
    resolve4: (name) => dns.resolve4(name),
    resolve6: (name) => dns.resolve6(name),
    resolve: (name, rrtype) => dns.resolve(name, rrtype as 'TXT'),
  };
}

/** A DNS "no such name / no such record" answer, as opposed to a failure worth retrying. */
export function isNoData(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  return code === 'ENOTFOUND' || code === 'ENODATA' || code === 'NXDOMAIN';
}
