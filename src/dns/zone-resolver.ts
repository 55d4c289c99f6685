// Answers MailResolver questions from zone records instead of the network (staging, tests).
// Follows CNAMEs; a name with no records anywhere at or below it is ENOTFOUND, a name that
// exists without the asked type is ENODATA, as a real resolver reports them.

import type { MailResolver, MxRecord } from './resolver.js';
import type { ZoneRecord, ZoneRecordType } from './zone-file.js';

const maxCnameHops = 8;

interface NameData {
  cname?: string;
  readonly sets: Map<ZoneRecordType, ZoneRecord[]>;
}

export function zoneResolver(records: readonly ZoneRecord[]): MailResolver {
  const names = new Map<string, NameData>();
  const existing = new Set<string>(['']); // every name and every ancestor: empty non-terminals exist
  for (const record of records) {
    let data = names.get(record.name);
    if (!data) {
      data = { sets: new Map() };
      names.set(record.name, data);
    }
    if (record.type === 'CNAME') data.cname = record.value;
    const set = data.sets.get(record.type) ?? [];
    set.push(record);
    data.sets.set(record.type, set);
    const labels = record.name.split('.');
    for (let i = 0; i < labels.length; i++) existing.add(labels.slice(i).join('.'));
  }

  const lookup = (syscall: string, question: string, type: ZoneRecordType): ZoneRecord[] => {
    let name = normalise(question);
    for (let hop = 0; hop <= maxCnameHops; hop++) {
      const data = names.get(name);
      const target = data?.cname;
      if (target !== undefined && type !== 'CNAME') {
        name = target;
        continue;
      }
      const set = data?.sets.get(type);
      if (set && set.length > 0) return set;
      throw dnsError(existing.has(name) ? 'ENODATA' : 'ENOTFOUND', syscall, question);
    }
    throw dnsError('ESERVFAIL', syscall, question); // a CNAME loop
  };

  const resolveTxt = async (name: string): Promise<string[][]> =>
    lookup('queryTxt', name, 'TXT').map((r) => [...(r.value as readonly string[])]);
  const resolveMx = async (name: string): Promise<MxRecord[]> =>
    lookup('queryMx', name, 'MX').map((r) => ({ ...(r.value as MxRecord) }));
  const resolve4 = async (name: string): Promise<string[]> => lookup('queryA', name, 'A').map((r) => r.value as string);
  const resolve6 = async (name: string): Promise<string[]> =>
    lookup('queryAaaa', name, 'AAAA').map((r) => r.value as string);

  return {
    resolveTxt,
    resolveMx,
    resolve4,
    resolve6,
    async resolve(name: string, rrtype: string): Promise<unknown> {
      switch (rrtype.toUpperCase()) {
        case 'A':
          return resolve4(name);
        case 'AAAA':
          return resolve6(name);
        case 'MX':
          return resolveMx(name);
        case 'TXT':
          return resolveTxt(name);
        case 'CNAME':
          return lookup('queryCname', name, 'CNAME').map((r) => r.value as string);
        case 'PTR':
          return lookup('queryPtr', name, 'PTR').map((r) => r.value as string);
        default:
          // types the zone file parses and ignores (NS, SOA, ...) are never answered
          throw dnsError(existing.has(normalise(name)) ? 'ENODATA' : 'ENOTFOUND', `query${rrtype}`, name);
      }
    },
  };
}

function normalise(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

function dnsError(code: string, syscall: string, hostname: string): Error {
  return Object.assign(new Error(`${syscall} ${code} ${hostname}`), { code, syscall, hostname });
}
