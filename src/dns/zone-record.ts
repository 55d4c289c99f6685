// Writes DNS records in RFC 1035 master-file syntax, for admins to paste into a zone:
// TXT data is split into quoted strings of at most 255 octets, as the wire format requires.

export interface PublishedRecord {
  readonly name: string;
  readonly ttl: number;
  readonly type: 'TXT' | 'MX' | 'A' | 'AAAA';
  readonly data: string;
}

export function txtRecord(name: string, text: string, ttl = 3600): PublishedRecord {
  return { name, ttl, type: 'TXT', data: text };
}

export function formatPublishedRecord(record: PublishedRecord): string {
  const owner = record.name.endsWith('.') ? record.name : `${record.name}.`;
  const data = record.type === 'TXT' ? quoteTxt(record.data) : record.data;
  return `${owner}\t${record.ttl}\tIN\t${record.type}\t${data}`;
}

function quoteTxt(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  const strings: string[] = [];
  for (let i = 0; i < bytes.length || strings.length === 0; i += 255) {
    strings.push(`"${escapeTxt(bytes.subarray(i, i + 255))}"`);
  }
  return strings.length === 1 ? strings[0]! : `( ${strings.join('\n\t\t\t\t')} )`;
}

function escapeTxt(bytes: Buffer): string {
  let out = '';
  for (const byte of bytes) {
    if (byte === 0x22 || byte === 0x5c) out += `\\${String.fromCharCode(byte)}`;
    else if (byte < 0x20 || byte > 0x7e) out += `\\${String(byte).padStart(3, '0')}`;
    else out += String.fromCharCode(byte);
  }
  return out;
}
