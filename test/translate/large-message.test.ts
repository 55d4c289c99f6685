// A 20 MB attachment converts both ways with bounded memory: nothing holds the message whole.
// The input is one random 57 KiB block repeated, made once, so the generator itself allocates
// nothing and the RSS growth sampled while the bytes flow is the converters' own.
import { createHash, randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import type { Part } from '../../src/native/protocol/message-format.js';
import { pmtpToRfc5322 } from '../../src/translate/pmtp-to-rfc5322.js';
import { type PartSink, rfc5322ToPmtp } from '../../src/translate/rfc5322-to-pmtp.js';
import { ARRIVAL } from './support.js';

const BLOCK = randomBytes(57 * 1024); // a multiple of 57 bytes: whole 76-character base64 lines
const BLOCKS = 360;
const SIZE = BLOCK.length * BLOCKS; // 20.04 MiB
const ENCODED = Buffer.from(BLOCK.toString('base64').replace(/.{76}/g, '$&\r\n'), 'latin1');

const HEAD = Buffer.from(
  'From: Alice <alice@a.example>\r\nTo: bob@b.example\r\nSubject: big\r\nMessage-ID: <big@a.example>\r\nMIME-Version: 1.0\r\n' +
    'Content-Type: multipart/mixed; boundary="big-1"\r\n\r\n--big-1\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n' +
    '--big-1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="big.bin"\r\n' +
    'Content-Transfer-Encoding: base64\r\n\r\n',
);

async function* attachment(blocks: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < blocks; i++) yield BLOCK;
}

async function* message(blocks: number): AsyncGenerator<Buffer> {
  yield HEAD;
  for (let i = 0; i < blocks; i++) yield ENCODED;
  yield Buffer.from('--big-1--\r\n');
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Peak RSS growth over a collected base, in MiB; `sample` is called as bytes flow (no forced GC there). */
function rssProbe() {
  gc();
  const base = process.memoryUsage().rss;
  let peak = base;
  return {
    sample: () => {
      peak = Math.max(peak, process.memoryUsage().rss);
    },
    growthMb: () => Math.round((peak - base) / 1048576),
  };
}

/** SMTP → PMTP (sink hashes and drops), then back both ways; returns the growth after each leg. */
async function convertBothWays(blocks: number) {
  const probe = rssProbe();
  const stored = new Map<number, string>();
  const sink: PartSink = async (index, _meta, octets) => {
    const hash = createHash('sha256');
    for await (const chunk of octets) {
      hash.update(chunk);
      probe.sample();
    }
    stored.set(index, hash.digest('base64url'));
  };
  const manifest = await rfc5322ToPmtp(message(blocks), ARRIVAL, sink);
  const toPmtp = probe.growthMb();
  const big = manifest.parts.findIndex((p: Part) => p.filename === 'big.bin');
  expect(manifest.parts[big]!.length).toBe(BLOCK.length * blocks);
  expect(stored.get(big)).toBe(manifest.parts[big]!.sha256);

  const read = async function* (index: number): AsyncGenerator<Buffer> {
    if (manifest.parts[index]!.role === 'original-rfc5322') yield* message(blocks);
    else if (index === big) yield* attachment(blocks);
    else yield Buffer.from('See attached.', 'utf8');
  };
  const sent: number[] = [];
  for (const useOriginal of [true, false]) {
    let bytes = 0;
    for await (const chunk of pmtpToRfc5322(manifest, read, {
      trace: [],
      hop: { smtputf8: false, eightBitMime: false },
      useOriginal,
    })) {
      bytes += chunk.length;
      probe.sample();
    }
    sent.push(bytes);
  }
  return { toPmtp, overall: probe.growthMb(), sent };
}

describe('a 20 MB attachment', () => {
  it('converts to PMTP and back (original and composed) with RSS growth well below 3 × its size', async () => {
    await convertBothWays(16); // warm-up: code, heap and stream buffers reach their working size
    const { toPmtp, overall, sent } = await convertBothWays(BLOCKS);
    const mb = (n: number) => (n / 1048576).toFixed(1);
    console.log(
      `${mb(SIZE)} MiB attachment: RSS growth ${toPmtp} MiB to PMTP, ${overall} MiB peak after back as original (${mb(sent[0]!)} MiB) and composed (${mb(sent[1]!)} MiB)`,
    );
    // bounded, not proportional: at 4 × this size the same run grew 33 MiB; the rest is GC slack
    expect(overall).toBeLessThan((2 * SIZE) / 1048576);
  });
});
