// Shared helpers for the translate tests: a provenance, an in-memory part store, chunked sources.
import type { Manifest, Provenance } from '../../src/native/protocol/message-format.js';
import type { PartSink } from '../../src/translate/rfc5322-to-pmtp.js';

export const NOW = 1_767_225_600; // 2026-01-01T00:00:00Z

export const PROVENANCE: Provenance = {
  spf: { result: 'pass', domain: 'a.example' },
  dkim: [{ result: 'pass', domain: 'a.example', selector: 'sel1' }],
  dmarc: { result: 'pass', domain: 'a.example' },
  arc: { result: 'none' },
  client_ip: '192.0.2.10',
  helo: 'mail.a.example',
  mail_from: 'alice@a.example',
  rcpt_to: ['bob@b.example'],
  received_at: NOW,
  gateway: 'gw.b.example',
};

export const ARRIVAL = { id: 'q7Jt3nX0bWc1yZ9aKm4LpA', created: NOW, provenance: PROVENANCE };

/** Splits bytes into chunks at the given sizes (cycled), as a network would. */
export async function* chunked(bytes: Buffer, sizes: readonly number[] = [65536]): AsyncGenerator<Buffer> {
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const size = Math.max(1, sizes[i % sizes.length]!);
    yield bytes.subarray(at, at + size);
    at += size;
  }
}

/** A sink that keeps every part in memory, indexed as the manifest will be. */
export function memorySink(): { sink: PartSink; parts: Buffer[] } {
  const parts: Buffer[] = [];
  const sink: PartSink = async (index, _meta, octets) => {
    const chunks: Buffer[] = [];
    for await (const chunk of octets) chunks.push(chunk);
    parts[index] = Buffer.concat(chunks);
  };
  return { sink, parts };
}

/** A reader over stored parts, with the original (the caller's own input) at its manifest index. */
export function reader(manifest: Manifest, parts: readonly Buffer[], original?: Buffer) {
  return (index: number): AsyncIterable<Uint8Array> => {
    const data = manifest.parts[index]?.role === 'original-rfc5322' ? original : parts[index];
    if (!data) throw new Error(`no part ${index}`);
    return chunked(data, [4096]);
  };
}

export async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of source) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

export function crlf(lines: readonly string[]): Buffer {
  return Buffer.from(lines.map((l) => `${l}\r\n`).join(''), 'utf8');
}
