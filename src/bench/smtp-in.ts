// `npm run bench -- smtp-in`: messages per second accepted durably by the mx listener with full
// checks (SPF, DKIM, DMARC against an offline zone, a DKIM-signed message), at 10, 50 and 200
// sessions, and the same load in the same run against a private Postfix that discards.
// Only the accepting side runs (listeners, spool, queue producer), as only smtpd+cleanup are timed.

import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dkimSign } from 'mailauth';
import { stringify } from 'yaml';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { buildResolver } from '../gateway.js';
import { startSmtpListeners } from '../inbound-smtp/listeners.js';
import { createLogger } from '../log.js';
import { openAcceptStack } from '../queue/accept-stack.js';
import { deleteKeys, freePort } from './bench-support.js';
import { formatTable, type Benchmark } from './benchmark.js';
import { startDiscardingPostfix } from './postfix-discard.js';

const sessionCounts = [10, 50, 200] as const;
const sender = 'bounce@bench.test';
const recipient = 'user@native.test';

export const benchmark: Benchmark = {
  summary: 'durable accept with SPF+DKIM+DMARC (mailbridge mx) vs Postfix smtpd + discard, via smtp-source',
  async run(argv, { out, env }) {
    const at = argv.indexOf('--messages');
    const minMessages = at >= 0 ? Number(argv[at + 1]) : 1000;
    const prefix = `{mbbench-${randomBytes(4).toString('hex')}}`;
    const dir = await mkdtemp(path.join(tmpdir(), 'mailbridge-bench-'));
    const cleanups: (() => Promise<void>)[] = [() => rm(dir, { recursive: true, force: true })];
    try {
      const messageFile = await prepareFixtures(dir);
      // the config's default Redis (127.0.0.1:6379) unless REDIS_URL says otherwise, as for `mailbridge start`
      const config = await loadConfig(await writeConfig(dir, prefix), env.REDIS_URL ? { REDIS_URL: env.REDIS_URL } : {});
      cleanups.push(() => deleteKeys(config.redis.url, prefix));
      const mailbridge = await startAcceptingSide(config);
      cleanups.unshift(() => mailbridge.close());
      const mbPort = mailbridge.port;
      const postfix = await startDiscardingPostfix(await freePort(), Math.max(...sessionCounts));
      cleanups.unshift(() => postfix.stop());
      const entries = path.join(config.spool.dir, 'entries');

      // warm up both (JIT, process pools) before anything is timed
      await smtpSource(mbPort, 10, 200, messageFile, false);
      await smtpSource(postfix.port, 10, 200, messageFile, false);

      for (const reuse of [false, true]) {
        const rows: { sessions: number; messages: number; mb: number; pf: number }[] = [];
        for (const sessions of sessionCounts) {
          const messages = Math.max(minMessages, sessions * 10);
          const before = (await readdir(entries)).length;
          const mbMs = await smtpSource(mbPort, sessions, messages, messageFile, reuse);
          const accepted = (await readdir(entries)).length - before;
          if (accepted !== messages) throw new Error(`mailbridge spooled ${accepted} of ${messages} messages`);
          const pfMs = await smtpSource(postfix.port, sessions, messages, messageFile, reuse);
          rows.push({ sessions, messages, mb: (messages * 1000) / mbMs, pf: (messages * 1000) / pfMs });
        }
        const best = Math.max(...rows.map((r) => r.pf));
        out.write(`\n${reuse ? 'connection reused for every message (smtp-source -d)' : 'one connection per message (as on a real MX)'}\n`);
        const table = rows.map((r) => [String(r.sessions), String(r.messages), r.mb.toFixed(0), r.pf.toFixed(0), (r.mb / best).toFixed(2)]);
        out.write(`${formatTable(['sessions', 'messages', 'mailbridge msg/s', 'postfix msg/s', 'mailbridge / postfix best'], table)}\n`);
      }
      out.write('\ntarget: mailbridge / postfix best >= 2.00\n');
    } finally {
      for (const cleanup of cleanups) await cleanup().catch((err: unknown) => process.stderr.write(`bench cleanup: ${String(err)}\n`));
    }
  },
};

/** Key, zone (SPF pass for 127.0.0.1, DMARC p=reject, the DKIM key) and the signed message file. */
async function prepareFixtures(dir: string): Promise<string> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const p = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const zone = [
    '$ORIGIN bench.test.',
    '@ TXT "v=spf1 ip4:127.0.0.1 -all"',
    '_dmarc TXT "v=DMARC1; p=reject"',
    `b1._domainkey TXT ( "v=DKIM1; k=rsa; " "p=${p.slice(0, 200)}" "${p.slice(200)}" )`,
  ];
  await writeFile(path.join(dir, 'zone.txt'), `${zone.join('\n')}\n`);
  const body = Array.from({ length: 40 }, (_, i) => `Line ${i}: the quick brown fox jumps over the lazy dog, 0123456789 abcdefghij.`);
  const raw = [`From: News <news@bench.test>`, `To: <${recipient}>`, 'Subject: benchmark', 'Message-ID: <bench@bench.test>', 'Date: Tue, 24 Nov 2026 00:00:00 +0000', '', ...body, ''].join('\r\n');
  const key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const { signatures, errors } = await dkimSign(raw, { signatureData: [{ signingDomain: 'bench.test', selector: 'b1', privateKey: key }] } as never);
  if (errors.length > 0) throw new Error(`DKIM signing failed: ${String(errors[0])}`);
  // smtp-source appends CRLF to each line of the file, so the file has bare LF line ends
  const file = path.join(dir, 'message.txt');
  await writeFile(file, `${signatures}${raw}`.replace(/\r\n/g, '\n').replace(/\n$/, ''));
  return file;
}

async function writeConfig(dir: string, prefix: string): Promise<string> {
  const file = path.join(dir, 'mailbridge.yaml');
  const config = {
    hostname: 'mx.bench.test',
    redis: { prefix },
    spool: { dir: 'spool' },
    dns: { zone_file: 'zone.txt' },
    domains: { native: ['native.test'] },
    smtp: { listeners: [{ role: 'mx', host: '127.0.0.1', port: 0, max_clients: 1000, max_connections_per_ip: 1000 }] },
  };
  await writeFile(file, stringify(config));
  return file;
}

/** Wall-clock ms for smtp-source to send `messages` over `sessions` parallel sessions; throws on failure. */
function smtpSource(port: number, sessions: number, messages: number, file: string, reuse: boolean): Promise<number> {
  const args = ['-s', String(sessions), '-m', String(messages), '-f', sender, '-t', recipient, '-M', 'client.bench.test', '-F', file];
  if (reuse) args.push('-d');
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    execFile('/usr/sbin/smtp-source', [...args, `127.0.0.1:${port}`], { timeout: 600_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`smtp-source failed against port ${port}: ${stderr || stdout || err.message}`));
      resolve(Number(process.hrtime.bigint() - started) / 1e6);
    });
  });
}

/** The mx listener with the acceptor behind it, as the gateway wires them, without the workers. */
async function startAcceptingSide(config: Config): Promise<{ port: number; close(): Promise<void> }> {
  const log = createLogger({ log: { level: 'warn' } });
  const stack = await openAcceptStack(config, log);
  const smtp = await startSmtpListeners(config, { acceptor: stack.acceptor, spool: stack.spool, resolver: await buildResolver(config), log });
  return {
    port: smtp.addresses[0]!.port,
    async close() {
      await smtp.close();
      await stack.close();
    },
  };
}
