// Coverage-guided fuzzing of the four parsers the issue names (plus the framed-stream reader), with
// the same oracles as the property suites. Each target replays its committed corpus, then mutates
// for FUZZ_SECONDS (default 3). `npm run fuzz` runs longer and saves new inputs (FUZZ_SAVE=1).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fieldValue, type HeaderBag } from '../../src/native/protocol/http-signature-base.js';
import { manifestBytes } from '../../src/native/protocol/message-format.js';
import { sampleManifest } from '../native/protocol/fixtures.js';
import { type CoverageTarget, fuzzWithCoverage, inputName } from './coverage-fuzzer.js';
import { corpus, split } from './fuzz-support.js';
import {
  checkCanonical,
  checkSignedRequest,
  convertRfc5322,
  filterIngress,
  readFramed,
  type SignedRequest,
  signedRequest,
  validFramedStream,
} from './oracles.js';

const SECONDS = Number(process.env.FUZZ_SECONDS ?? 3);
const SAVE = process.env.FUZZ_SAVE === '1';
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
/** generous for a loaded CI core; `npm run fuzz` uses 100, the figure */
const STALL_MS = Number(process.env.STALL_MS ?? 250);

/** Cut points that depend only on the input, so a finding replays with the same chunking. */
function cutsOf(input: Buffer): number[] {
  let h = 2166136261;
  for (const b of input) h = Math.imul(h ^ b, 16777619) >>> 0;
  return [h % 977, (h >>> 10) % 61, (h >>> 20) % 7];
}

/**
 * The request target reads an input as header lines `name: value` laid over a validly signed
 * request (an empty value removes the field); `:method`, `:url` and `:body` set those parts.
 */
function requestOf(input: Buffer): SignedRequest {
  const headers: Record<string, string | readonly string[] | undefined> = { ...signedRequest.headers };
  let { method, url, body } = signedRequest;
  for (const line of input.toString('latin1').split('\n')) {
    const colon = line.indexOf(':', 1);
    if (colon < 0) continue;
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).replace(/^ /, '');
    if (name === ':method') method = value;
    else if (name === ':url') url = value;
    else if (name === ':body') body = Buffer.from(value, 'latin1');
    else if (value === '') delete headers[name];
    else headers[name] = headers[name] === undefined ? value : [String(headers[name]), value];
  }
  return { method, url, headers: headers as HeaderBag, body };
}

const signedAsLines = Buffer.from(
  ['signature', 'signature-input', 'content-digest', 'pmtp-origin', 'pmtp-destination']
    .map((n) => `${n}: ${fieldValue(signedRequest.headers, n) ?? ''}`)
    .join('\n'),
  'latin1',
);

const src = /\/src\//;
const targets: { target: CoverageTarget; seeds: Buffer[] }[] = [
  {
    target: {
      name: 'canonical-json',
      dictionary: [
        '{"',
        '":',
        '","',
        '"}',
        '[]',
        '{}',
        '\\u0000',
        '\\ud800',
        '\\"',
        'true',
        'false',
        'null',
        '-0',
        '1e3',
        '9007199254740993',
        '"parts"',
        '"sha256"',
        '"length"',
        '"v":1',
        '\u00e9',
      ],
      maxBytes: 4096,
      scripts: src,
      run: (input) => checkCanonical(input),
    },
    seeds: [manifestBytes(sampleManifest()), ...corpus('canonical-json').map(([, b]) => b)],
  },
  {
    target: {
      name: 'message-framing',
      dictionary: [
        'PMTP/1\n',
        'H ',
        'P ',
        'E\n',
        '\n',
        ' 0 ',
        ' 18446744073709551616',
        '{"manifest":',
        '"signatures":[]',
      ],
      maxBytes: 8192,
      scripts: src,
      run(input) {
        for (const options of [{}, { view: 'text' as const }]) {
          const whole = readFramed([input], options);
          expect(readFramed(split(input, cutsOf(input)), options)).toBe(whole);
        }
      },
    },
    seeds: [validFramedStream, ...corpus('message-framing').map(([, b]) => b)],
  },
  {
    target: {
      name: 'request-signature-headers',
      dictionary: [
        'signature: ',
        'signature-input: ',
        'pmtp-origin: ',
        'content-digest: ',
        ':method: ',
        ':url: ',
        ':body: ',
        'sig1=',
        '("@method" "@target-uri")',
        ';created=',
        ';expires=',
        ';keyid=',
        ';nonce=',
        ';alg="ed25519"',
        ':',
        '"',
        '\n',
        ',',
        'sha-256=:',
        'https://mx.b.example/pmtp/v1/notices',
      ],
      maxBytes: 2048,
      scripts: src,
      run: (input) => checkSignedRequest(requestOf(input)),
    },
    seeds: [signedAsLines, ...corpus('request-signature-headers').map(([, b]) => b)],
  },
  {
    target: {
      name: 'smtp-ingress',
      dictionary: [
        '\r\n',
        '\n',
        '\r',
        '.',
        '\r\n.\r\n',
        '\n.\n',
        '\r.\r',
        '\n.\r\n',
        '\r\n.\n',
        '..',
        'From: <ceo@native.test>',
        ': ',
        '\r\n\r\n',
        ' \t',
      ],
      maxBytes: 2048,
      scripts: src,
      async run(input) {
        for (const policy of ['reject', 'normalise'] as const) {
          expect(await filterIngress(split(input, cutsOf(input)), policy)).toBe(await filterIngress([input], policy));
        }
      },
    },
    seeds: corpus('smtp-ingress').map(([, b]) => b),
  },
  {
    target: {
      name: 'rfc5322',
      dictionary: [
        '\r\n',
        '\r\n\r\n',
        'From: a@a.example\r\n',
        'Content-Type: multipart/mixed; boundary="b"\r\n',
        '--b\r\n',
        '--b--\r\n',
        'Content-Type: message/rfc822\r\n',
        'Content-Transfer-Encoding: base64\r\n',
        'Content-Transfer-Encoding: quoted-printable\r\n',
        '=?utf-8?B?',
        '?=',
        '=\r\n',
        'filename="',
        'charset=',
        ' ',
      ],
      maxBytes: 8192,
      // the converter and the MIME splitter it streams through
      scripts: /\/src\/|node_modules\/(mailsplit|mailparser|libmime|libqp|libbase64)\//,
      async run(input) {
        const whole = await convertRfc5322(input, [65536]);
        expect(
          await convertRfc5322(
            input,
            cutsOf(input).map((c) => c + 1),
          ),
        ).toBe(whole);
      },
    },
    seeds: corpus('rfc5322').map(([, b]) => b),
  },
];

describe(`coverage-guided fuzzing (${SECONDS} s per target, seed ${SEED})`, () => {
  for (const { target, seeds } of targets) {
    it(
      target.name,
      async () => {
        const report = await fuzzWithCoverage(target, seeds, { seconds: SECONDS, seed: SEED, stallMs: STALL_MS });
        console.log(
          `fuzz ${target.name}: ${report.execs} execs (${(report.execs / Math.max(report.seconds, 0.001)).toFixed(0)}/s), ${report.blocks} blocks, ` +
            `corpus ${report.seeds} + ${report.added.length} new, longest event-loop stall ${report.slowestMs.toFixed(1)} ms, seed ${SEED}`,
        );
        const dir = path.join(import.meta.dirname, 'corpus', target.name);
        if (SAVE) {
          mkdirSync(dir, { recursive: true });
          for (const input of report.added) writeFileSync(path.join(dir, inputName('cov', input)), input);
          for (const f of report.findings) writeFileSync(path.join(dir, inputName(f.kind, f.input)), f.input);
        }
        // the mutator must get past the seeds, or the run proved nothing
        expect(report.execs).toBeGreaterThan(report.seeds);
        expect(
          report.findings.map(
            (f) => `${f.kind}: ${f.detail} (input ${JSON.stringify(f.input.toString('latin1').slice(0, 200))})`,
          ),
        ).toEqual([]);
      },
      SECONDS * 1000 + 60_000,
    );
  }
});
