// A MailResolver over a few records in an object literal, with Node's error codes: ENODATA when
// the name exists but lacks the type, ENOTFOUND when it does not exist, ESERVFAIL on request.

import type { MailResolver, MxRecord } from '../../src/dns/resolver.js';

export interface StaticZone {
  readonly mx?: Record<string, MxRecord[]>;
  readonly a?: Record<string, string[]>;
  readonly aaaa?: Record<string, string[]>;
  readonly txt?: Record<string, string[][]>;
  /** names whose every lookup fails with SERVFAIL */
  readonly servfail?: readonly string[];
}

export function staticResolver(zone: StaticZone): MailResolver & { readonly asked: string[] } {
  const asked: string[] = [];
  const tables = [zone.mx, zone.a, zone.aaaa, zone.txt];
  const lookup = async <T>(table: Record<string, T> | undefined, name: string, rrtype: string): Promise<T> => {
    const key = name.toLowerCase().replace(/\.$/, '');
    asked.push(`${rrtype} ${key}`);
    const fail = (code: string) => Object.assign(new Error(`query${rrtype} ${code} ${key}`), { code });
    if (zone.servfail?.includes(key)) throw fail('ESERVFAIL');
    const found = table?.[key];
    if (found !== undefined) return found;
    throw fail(tables.some((t) => t && key in t) ? 'ENODATA' : 'ENOTFOUND');
  };
  const resolver = {
    asked,
    resolveMx: (name: string) => lookup(zone.mx, name, 'MX'),
    resolve4: (name: string) => lookup(zone.a, name, 'A'),
    resolve6: (name: string) => lookup(zone.aaaa, name, 'AAAA'),
    resolveTxt: (name: string) => lookup(zone.txt, name, 'TXT'),
    resolve: (name: string, rrtype: string): Promise<unknown> => {
      const table = { MX: zone.mx, A: zone.a, AAAA: zone.aaaa, TXT: zone.txt }[rrtype.toUpperCase()];
      return lookup(table as Record<string, unknown> | undefined, name, rrtype.toUpperCase());
    },
  };
  return resolver;
}
