// The listener: HTTPS with the configured certificate answers HTTP/1.1 and HTTP/2; plain HTTP is
// refused unless enabled on loopback.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import http2 from 'node:http2';
import https from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildKeyRing } from '../../../src/native/keys/local-keys.js';
import { generateDomainKey } from '../../../src/native/protocol/domain-keys.js';
import { type PmtpListener, serverOptionsFor, startPmtpListener } from '../../../src/native/server/listen.js';
import { buildPmtpContext, type PmtpContextDeps } from '../../../src/native/service/pmtp-context-builder.js';
import { testConfig } from '../../support/config.js';
import { freePort } from '../../support/smtp-sink.js';
import { tempDir } from '../../support/tmp.js';

const run = promisify(execFile);

describe('PMTP listener transport', () => {
  let listener: PmtpListener;
  let remove: () => Promise<void>;
  let dir: string;
  beforeAll(async () => {
    const t = await tempDir('pmtp-tls');
    remove = t.remove;
    dir = t.dir;
    const key = path.join(t.dir, 'key.pem');
    const cert = path.join(t.dir, 'cert.pem');
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-keyout',
      key,
      '-out',
      cert,
    ]);
    const config = testConfig({
      spool: { dir: t.dir },
      pmtp: { domain: 'a.example', listen: { host: '127.0.0.1', port: await freePort(), tls: { key, cert } } },
    });
    const ring = buildKeyRing('a.example', generateDomainKey(), [], 30);
    const rt = buildPmtpContext(
      config,
      ring,
      { log: pino({ level: 'silent' }) } as unknown as PmtpContextDeps,
      () => 'https://127.0.0.1',
    );
    listener = await startPmtpListener(rt);
  });
  afterAll(async () => {
    await listener?.close();
    await remove?.();
  });

  it('installs a renewed certificate for new handshakes (SIGHUP)', async () => {
    const subjectOf = () =>
      new Promise<string>((resolve, reject) => {
        const req = https.get(
          `${listener.url}/.well-known/pmtp/server`,
          { rejectUnauthorized: false, agent: false },
          (res) => {
            resolve(String((res.socket as import('node:tls').TLSSocket).getPeerCertificate().subject.CN));
            res.resume();
          },
        );
        req.on('error', reject);
      });
    expect(await subjectOf()).toBe('localhost');
    const [key, cert] = [path.join(dir, 'key2.pem'), path.join(dir, 'cert2.pem')];
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=renewed',
      '-keyout',
      key,
      '-out',
      cert,
    ]);
    listener.updateSecureContext({ key: await readFile(key), cert: await readFile(cert) });
    expect(await subjectOf()).toBe('renewed');
  });

  it('serves HTTP/1.1 over TLS', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get(`${listener.url}/.well-known/pmtp/server`, { rejectUnauthorized: false }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        })
        .on('error', reject);
    });
    expect(JSON.parse(body)).toMatchObject({ protocol: 'PMTP/1', max_batch: 50 });
  });

  it('serves HTTP/2 over TLS', async () => {
    const session = http2.connect(listener.url, { rejectUnauthorized: false });
    const body = await new Promise<string>((resolve, reject) => {
      const req = session.request({ ':path': '/.well-known/pmtp/keys?domain=a.example' });
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => resolve(text));
      req.on('error', reject);
    });
    session.close();
    expect(JSON.parse(body)).toMatchObject({ v: 1, domain: 'a.example' });
  });

  it('refuses plain HTTP off loopback or when not enabled', async () => {
    const base = { spool: { dir: '/tmp' } };
    await expect(serverOptionsFor(testConfig({ ...base, pmtp: { listen: { host: '127.0.0.1' } } }))).rejects.toThrow(
      /plain_http/,
    );
    expect(() => testConfig({ ...base, pmtp: { listen: { host: '0.0.0.0', plain_http: true } } })).toThrow();
  });
});
