// Two domains on one HTTPS PMTP listener: each domain's certificate by SNI, and each domain's key
// set from its own app behind the one socket, over HTTP/1.1 and HTTP/2.

import http2 from 'node:http2';
import https from 'node:https';
import tls from 'node:tls';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildKeyRing } from '../../../src/native/keys/local-keys.js';
import { generateDomainKey } from '../../../src/native/protocol/domain-keys.js';
import { PATHS } from '../../../src/native/protocol/endpoints.js';
import { type PmtpListener, startPmtpListener } from '../../../src/native/server/listen.js';
import {
  buildPmtpContext,
  domainContext,
  type PmtpContextDeps,
} from '../../../src/native/service/pmtp-context-builder.js';
import { testConfig } from '../../support/config.js';
import { selfSigned } from '../../support/self-signed.js';
import { freePort } from '../../support/smtp-sink.js';
import { tempDir } from '../../support/tmp.js';

describe('PMTP over HTTPS for two domains', () => {
  let listener: PmtpListener;
  let remove: () => Promise<void>;
  let port: number;
  const cKey = generateDomainKey();

  beforeAll(async () => {
    const t = await tempDir('pmtp-sni');
    remove = t.remove;
    port = await freePort();
    const config = testConfig({
      spool: { dir: t.dir },
      pmtp: {
        domain: 'a.example',
        listen: { host: '127.0.0.1', port, tls: selfSigned(t.dir, 'pmtp.a.example') },
      },
      domains: { settings: { 'c.example': { tls: selfSigned(t.dir, 'pmtp.c.example') } } },
    });
    const endpoint = () => `https://127.0.0.1:${port}`;
    const rt = buildPmtpContext(
      config,
      buildKeyRing('a.example', generateDomainKey(), [], 30),
      { log: pino({ level: 'silent' }) } as unknown as PmtpContextDeps,
      endpoint,
    );
    const c = domainContext(rt, buildKeyRing('c.example', cKey, [], 30), endpoint);
    listener = await startPmtpListener(rt, new Map([['c.example', c]]));
  });
  afterAll(async () => {
    await listener?.close();
    await remove?.();
  });

  const presented = (servername: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
        resolve(String(socket.getPeerCertificate().subject.CN));
        socket.end();
      });
      socket.on('error', reject);
    });

  it("presents each domain's certificate by SNI, the listener's own otherwise", async () => {
    expect(await presented('pmtp.c.example')).toBe('pmtp.c.example');
    expect(await presented('c.example')).toBe('pmtp.c.example');
    expect(await presented('pmtp.a.example')).toBe('pmtp.a.example');
    expect(await presented('unknown.example')).toBe('pmtp.a.example');
  });

  it("answers each domain's key set from its own app over HTTP/1.1", async () => {
    const keySet = (domain: string) =>
      new Promise<{ domain: string; keys: { key_id: string }[] }>((resolve, reject) => {
        https
          .get(
            `https://127.0.0.1:${port}${PATHS.keys}?domain=${domain}`,
            { rejectUnauthorized: false, servername: `pmtp.${domain}` },
            (res) => {
              let text = '';
              res.on('data', (chunk: Buffer) => (text += chunk.toString()));
              res.on('end', () => resolve(JSON.parse(text)));
            },
          )
          .on('error', reject);
      });
    expect(await keySet('c.example')).toMatchObject({ domain: 'c.example', keys: [{ key_id: cKey.keyId }] });
    expect((await keySet('a.example')).domain).toBe('a.example');
  });

  it('dispatches HTTP/2 requests by the PMTP-Destination header', async () => {
    const session = http2.connect(`https://127.0.0.1:${port}`, {
      rejectUnauthorized: false,
      servername: 'pmtp.c.example',
    });
    try {
      // no ?domain=: only the header tells the apps apart
      const keySetFor = (destination: string) =>
        new Promise<{ domain: string }>((resolve, reject) => {
          const req = session.request({ ':path': PATHS.keys, 'pmtp-destination': destination });
          let body = '';
          req.on('data', (chunk: Buffer) => (body += chunk.toString()));
          req.on('end', () => resolve(JSON.parse(body)));
          req.on('error', reject);
          req.end();
        });
      expect((await keySetFor('c.example')).domain).toBe('c.example');
      expect((await keySetFor('a.example')).domain).toBe('a.example');
      // a domain we do not answer for: the default domain's app
      expect((await keySetFor('z.example')).domain).toBe('a.example');
    } finally {
      session.close();
    }
  });
});
