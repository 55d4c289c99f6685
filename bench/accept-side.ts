// What the accept benchmarks (smtp-in, scaling) share: the offline zone and DKIM key, signed
// message files of a chosen size, the mx listener with its acceptor as the gateway wires them
// (no workers), and smtp-source runs timed against any SMTP server.

import { execFile } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { dkimSign } from 'mailauth';
import { stringify } from 'yaml';
import { loadConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { buildResolver } from '../src/gateway.js';
import { startSmtpListeners } from '../src/inbound-smtp/listeners.js';
import { createLogger } from '../src/log.js';
import { openAcceptStack } from '../src/queue/accept-stack.js';

export const sender = 'bounce@bench.test';
export const recipient = 'user@native.test';

export interface AcceptFixtures {
  readonly dir: string;
  /** A DKIM-signed message file of about `bodyBytes` body octets, as smtp-source -F reads it. */
  messageFile(name: string, bodyBytes: number): Promise<string>;
}

/** Key and zone: SPF pass for 127.0.0.1, DMARC p=reject, the DKIM key. */
export async function acceptFixtures(dir: string): Promise<AcceptFixtures> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const p = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  const zone = [
    '$ORIGIN bench.test.',
    '@ TXT "v=spf1 ip4:127.0.0.1 -all"',
    '_dmarc TXT "v=DMARC1; p=reject"',
    `b1._domainkey TXT ( "v=DKIM1; k=rsa; " "p=${p.slice(0, 200)}" "${p.slice(200)}" )`,
  ];
  await writeFile(path.join(dir, 'zone.txt'), `${zone.join('\n')}\n`);
  return { dir, messageFile: (name, bodyBytes) => signedMessage(path.join(dir, name), privateKey, bodyBytes) };
}

async function signedMessage(file: string, privateKey: KeyObject, bodyBytes: number): Promise<string> {
  const line = 'the quick brown fox jumps over the lazy dog, 0123456789 abcdefghij ABCDEFGHIJ.';
  const body = Array.from({ length: Math.max(1, Math.round(bodyBytes / (line.length + 2))) }, () => line);
  const raw = [
    `From: News <news@bench.test>`,
    `To: <${recipient}>`,
    'Subject: benchmark',
    'Message-ID: <bench@bench.test>',
    'Date: Tue, 24 Nov 2026 00:00:00 +0000',
    '',
    ...body,
    '',
  ].join('\r\n');
  const key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const { signatures, errors } = await dkimSign(raw, {
    signatureData: [{ signingDomain: 'bench.test', selector: 'b1', privateKey: key }],
  } as never);
  if (errors.length > 0) throw new Error(`DKIM signing failed: ${String(errors[0])}`);
  // smtp-source appends CRLF to each line of the file, so the file has bare LF line ends
  await writeFile(file, `${signatures}${raw}`.replace(/\r\n/g, '\n').replace(/\n$/, ''));
  return file;
}

/** mailbridge.yaml for the mx listener in `dir`; REDIS_URL from the environment as for `mailbridge start`. */
export async function acceptConfig(
  dir: string,
  prefix: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<Config> {
  const file = path.join(dir, 'mailbridge.yaml');
  const config = {
    hostname: 'mx.bench.test',
    redis: { prefix },
    log: { level: 'warn' },
    spool: { dir: 'spool' },
    dns: { zone_file: 'zone.txt' },
    domains: { mailbox: ['native.test'] },
    smtp: { listeners: [{ role: 'mx', host: '127.0.0.1', port: 0, max_clients: 1000, max_connections_per_ip: 1000 }] },
  };
  await writeFile(file, stringify(config));
  return loadConfig(file, env.REDIS_URL ? { REDIS_URL: env.REDIS_URL } : {});
}

/** The mx listener with the acceptor behind it, as the gateway wires them, without the workers. */
export async function startAcceptingSide(config: Config): Promise<{ port: number; close(): Promise<void> }> {
  const log = createLogger({ log: { level: 'warn' } });
  const stack = await openAcceptStack(config, log);
  const smtp = await startSmtpListeners(config, {
    acceptor: stack.acceptor,
    spool: stack.spool,
    resolver: await buildResolver(config),
    log,
  });
  return {
    port: smtp.addresses[0]!.port,
    async close() {
      await smtp.close();
      await stack.close();
    },
  };
}

export interface SourceLoad {
  readonly sessions: number;
  readonly messages: number;
  /** the message (-F); absent: smtp-source's own, with a body of `length` octets (-l) */
  readonly file?: string;
  readonly length?: number;
  /** one connection for many messages (smtp-source -d) */
  readonly reuse: boolean;
  /** recipients per message (smtp-source -r); smtp-source numbers them 1user@, 2user@, … */
  readonly recipients?: number;
  readonly from?: string;
  readonly to?: string;
}

/** Wall-clock ms for smtp-source to send the load to 127.0.0.1:`port`; throws on failure. */
export function smtpSource(port: number, load: SourceLoad): Promise<number> {
  const args = [
    '-s',
    String(load.sessions),
    '-m',
    String(load.messages),
    '-f',
    load.from ?? sender,
    '-t',
    load.to ?? recipient,
    '-M',
    'client.bench.test',
  ];
  args.push(...(load.file ? ['-F', load.file] : ['-l', String(load.length ?? 1000)]));
  if (load.reuse) args.push('-d');
  if ((load.recipients ?? 1) > 1) args.push('-r', String(load.recipients));
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    execFile('/usr/sbin/smtp-source', [...args, `127.0.0.1:${port}`], { timeout: 600_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`smtp-source failed against port ${port}: ${stderr || stdout || err.message}`));
      resolve(Number(process.hrtime.bigint() - started) / 1e6);
    });
  });
}
