// Reads an RFC 1035 master file into the records mail needs (A, AAAA, MX, TXT, CNAME, PTR),
// for offline staging and tests; other common types are parsed and ignored. Every error names
// its line. Also merges zones: a later zone's record sets replace an earlier zone's.

import { readFile } from 'node:fs/promises';
import { isIPv4, isIPv6 } from 'node:net';
import type { MxRecord } from './resolver.js';
import { lexZone, type ZoneEntry, ZoneFileError, type ZoneToken } from './zone-lexer.js';

export { ZoneFileError } from './zone-lexer.js';

export type ZoneRecord =
  | {
      readonly name: string;
      readonly ttl: number;
      readonly type: 'A' | 'AAAA' | 'CNAME' | 'PTR';
      readonly value: string;
    }
  | { readonly name: string; readonly ttl: number; readonly type: 'MX'; readonly value: MxRecord }
  | { readonly name: string; readonly ttl: number; readonly type: 'TXT'; readonly value: readonly string[] };

export type ZoneRecordType = ZoneRecord['type'];

/** Types a mail zone often holds that mailbridge never asks for. */
const ignoredTypes = new Set([
  'NS',
  'SOA',
  'SRV',
  'CAA',
  'TLSA',
  'SSHFP',
  'DS',
  'DNSKEY',
  'HINFO',
  'NAPTR',
  'SPF',
  'HTTPS',
  'SVCB',
]);
const classes = new Set(['IN', 'CH', 'HS', 'CS']);
const defaultTtl = 3600;

export interface ZoneParseOptions {
  /** origin for relative names before any $ORIGIN; without it a relative name is an error */
  readonly origin?: string;
  /** shown in error messages */
  readonly file?: string;
}

export async function loadZoneFile(file: string, options: Omit<ZoneParseOptions, 'file'> = {}): Promise<ZoneRecord[]> {
  return parseZoneFile(await readFile(file, 'utf8'), { ...options, file });
}

export function parseZoneFile(text: string, options: ZoneParseOptions = {}): ZoneRecord[] {
  const file = options.file ?? '<zone>';
  let origin = options.origin === undefined ? undefined : absoluteName(options.origin);
  let ttlDefault: number | undefined;
  let lastTtl: number | undefined;
  let lastOwner: string | undefined;
  const records: ZoneRecord[] = [];
  const cnameLine = new Map<string, number>();
  const otherLine = new Map<string, number>();

  for (const entry of lexZone(text, file)) {
    const fail = (reason: string): never => {
      throw new ZoneFileError(file, entry.line, reason);
    };
    const toName = (token: ZoneToken): string => nameOf(token.text, origin, fail);
    const first = entry.tokens[0]!;
    if (!entry.ownerOmitted && first.text.startsWith('$')) {
      const directive = first.text.toUpperCase();
      const arg = entry.tokens[1];
      if (directive === '$ORIGIN') {
        if (!arg || entry.tokens.length !== 2) fail('$ORIGIN takes one domain name');
        if (!arg!.text.endsWith('.')) fail('$ORIGIN must be an absolute name (ending in ".")');
        origin = toName(arg!);
      } else if (directive === '$TTL') {
        if (!arg || entry.tokens.length !== 2) fail('$TTL takes one value');
        ttlDefault = parseTtl(arg!.text) ?? fail(`bad TTL "${arg!.text}"`);
      } else {
        fail(`${directive} is not supported`);
      }
      continue;
    }

    let rest = entry.tokens;
    let owner: string;
    if (entry.ownerOmitted) {
      owner = lastOwner ?? fail('record has no owner name and there is no previous one');
    } else {
      owner = toName(first);
      rest = rest.slice(1);
    }
    lastOwner = owner;

    let ttl: number | undefined;
    let seenClass = false;
    while (rest.length > 0) {
      const word = rest[0]!.text.toUpperCase();
      const asTtl = parseTtl(word);
      if (ttl === undefined && asTtl !== undefined) ttl = asTtl;
      else if (!seenClass && classes.has(word)) {
        if (word !== 'IN') fail(`class ${word} is not supported (only IN)`);
        seenClass = true;
      } else break;
      rest = rest.slice(1);
    }
    if (ttl !== undefined) lastTtl = ttl;
    const effectiveTtl = ttl ?? ttlDefault ?? lastTtl ?? defaultTtl;
    const typeToken = rest[0] ?? fail('record type is missing');
    const type = typeToken.text.toUpperCase();
    const rdata = rest.slice(1);
    const expect = (count: number): void => {
      if (rdata.length !== count) fail(`${type} needs ${count} value${count === 1 ? '' : 's'}, got ${rdata.length}`);
    };

    let record: ZoneRecord | undefined;
    switch (type) {
      case 'A':
        expect(1);
        if (!isIPv4(rdata[0]!.text)) fail(`"${rdata[0]!.text}" is not an IPv4 address`);
        record = { name: owner, ttl: effectiveTtl, type, value: rdata[0]!.text };
        break;
      case 'AAAA':
        expect(1);
        if (!isIPv6(rdata[0]!.text)) fail(`"${rdata[0]!.text}" is not an IPv6 address`);
        record = { name: owner, ttl: effectiveTtl, type, value: rdata[0]!.text.toLowerCase() };
        break;
      case 'CNAME':
      case 'PTR':
        expect(1);
        record = { name: owner, ttl: effectiveTtl, type, value: toName(rdata[0]!) };
        break;
      case 'MX': {
        expect(2);
        const priority = Number(rdata[0]!.text);
        if (!/^\d+$/.test(rdata[0]!.text) || priority > 65535) fail(`MX preference "${rdata[0]!.text}" is not 0-65535`);
        // "0 ." is the null MX of RFC 7505; Node reports its exchange as ''
        record = { name: owner, ttl: effectiveTtl, type, value: { priority, exchange: toName(rdata[1]!) } };
        break;
      }
      case 'TXT': {
        if (rdata.length === 0) fail('TXT needs at least one string');
        const strings = rdata.map((t) => {
          if (t.bytes.length > 255) fail('a TXT string is longer than 255 bytes; split it into several quoted strings');
          return t.bytes.toString('utf8');
        });
        record = { name: owner, ttl: effectiveTtl, type, value: strings };
        break;
      }
      default:
        if (!ignoredTypes.has(type)) fail(`record type "${typeToken.text}" is not supported`);
    }
    if (!record) continue;
    checkCname(record, entry, cnameLine, otherLine, fail);
    records.push(record);
  }
  return records;
}

function checkCname(
  record: ZoneRecord,
  entry: ZoneEntry,
  cnames: Map<string, number>,
  others: Map<string, number>,
  fail: (r: string) => never,
): void {
  if (record.type === 'CNAME') {
    if (cnames.has(record.name)) fail(`${record.name} already has a CNAME (line ${cnames.get(record.name)})`);
    if (others.has(record.name))
      fail(`${record.name} has other records (line ${others.get(record.name)}), so it cannot have a CNAME`);
    cnames.set(record.name, entry.line);
  } else {
    if (cnames.has(record.name))
      fail(`${record.name} has a CNAME (line ${cnames.get(record.name)}), so it cannot have other records`);
    if (!others.has(record.name)) others.set(record.name, entry.line);
  }
}

/** TTL as seconds: `3600`, or BIND units like `1h30m`, `2d`, `1w`. */
function parseTtl(word: string): number | undefined {
  if (/^\d+$/.test(word)) return Number(word);
  if (!/^(\d+[SMHDW])+$/i.test(word)) return undefined;
  const unit: Record<string, number> = { S: 1, M: 60, H: 3600, D: 86400, W: 604800 };
  let total = 0;
  for (const [, n, u] of word.toUpperCase().matchAll(/(\d+)([SMHDW])/g)) total += Number(n) * unit[u!]!;
  return total;
}

/** Lower-case name without the trailing dot, as Node's resolver reports names; the root is ''. */
function nameOf(text: string, origin: string | undefined, fail: (r: string) => never): string {
  let name: string;
  if (text === '@') {
    name = origin ?? fail('"@" used before any $ORIGIN');
  } else if (text.endsWith('.')) {
    name = absoluteName(text);
  } else {
    if (origin === undefined) fail(`relative name "${text}" used before any $ORIGIN`);
    name = origin === '' ? text.toLowerCase() : `${text.toLowerCase()}.${origin}`;
  }
  if (name.length > 253) fail(`name "${name}" is longer than 253 characters`);
  if (name !== '' && name.split('.').some((label) => label.length === 0 || label.length > 63))
    fail(`"${text}" is not a valid domain name`);
  return name;
}

function absoluteName(text: string): string {
  return text.toLowerCase().replace(/\.$/, '');
}

/**
 * Combines zones in order: a later zone's record set (name + type) replaces an earlier one's,
 * and a CNAME in either direction replaces everything else at its name. Duplicates collapse.
 */
export function mergeZones(...zones: readonly (readonly ZoneRecord[])[]): ZoneRecord[] {
  let merged: ZoneRecord[] = [];
  for (const zone of zones) {
    const replaced = new Set(zone.map((r) => `${r.name} ${r.type}`));
    const cnameNames = new Set(zone.filter((r) => r.type === 'CNAME').map((r) => r.name));
    const dataNames = new Set(zone.filter((r) => r.type !== 'CNAME').map((r) => r.name));
    merged = merged.filter(
      (r) =>
        !replaced.has(`${r.name} ${r.type}`) &&
        !cnameNames.has(r.name) &&
        !(r.type === 'CNAME' && dataNames.has(r.name)),
    );
    merged.push(...zone);
  }
  const seen = new Set<string>();
  return merged.filter((r) => {
    const key = `${r.name} ${r.type} ${JSON.stringify(r.value)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
