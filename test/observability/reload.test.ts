// SIGHUP reload against a real STARTTLS server: a renewed certificate reaches new sessions while an
// open one carries on; a bad config (logged with key and line) or a bad key pair changes nothing.
import { execFile } from 'node:child_process';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { logLevelReloadable, smtpListenerTls, smtpServerInstaller } from '../../src/observability/live-settings.js';
import { ConfigReloader, type ReloadOutcome } from '../../src/observability/reload.js';
import { hangUp } from '../support/sighup.js';
import { tempDir } from '../support/tmp.js';

const run = promisify(execFile);

/** A STARTTLS session: the certificate's CN it was shown, and a way to send a command over TLS. */
async function startTls(port: number): Promise<{ cn: string; send(line: string): Promise<string>; close(): void }> {
  const plain = net.connect(port, '127.0.0.1');
  const lines: string[] = [];
  let wake = (): void => undefined;
  const onData = (chunk: Buffer): void => {
    lines.push(...chunk.toString().split('\r\n').filter(Boolean));
    wake();
  };
  const reply = async (): Promise<string> => {
    for (;;) {
      const done = lines.findIndex((l) => /^\d{3} /.test(l));
      if (done >= 0) return lines.splice(0, done + 1).join('\n');
      await new Promise<void>((r) => (wake = r));
    }
  };
  plain.on('data', onData);
  await reply();
  plain.write('EHLO client.test\r\n');
  await reply();
  plain.write('STARTTLS\r\n');
  expect(await reply()).toMatch(/^220/);
  plain.off('data', onData);
  const secure = tls.connect({ socket: plain, rejectUnauthorized: false, servername: 'mx.test' });
  await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
  secure.on('data', onData);
  const cn = String(secure.getPeerCertificate().subject.CN);
  return {
    cn,
    send: async (line) => {
      secure.write(`${line}\r\n`);
      return reply();
    },
    close: () => secure.destroy(),
  };
}

describe('SIGHUP reload', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let server: SMTPServer;
  let port: number;
  let reloader: ConfigReloader;
  let stopListening: () => void;
  const logged: Record<string, unknown>[] = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write: (chunk: Buffer, _e, done) => {
        logged.push(JSON.parse(chunk.toString()));
        done();
      },
    }),
  );
  const outcomes: ReloadOutcome[] = [];
  const file = () => path.join(dir, 'mailbridge.yaml');
  const writeConfig = (extra: Record<string, unknown> = {}) =>
    writeFile(
      file(),
      stringify({
        spool: { dir },
        smtp: { listeners: [{ role: 'mx', port: 0, tls: { key: 'key.pem', cert: 'cert.pem' } }] },
        ...extra,
      }),
    );
  const useCert = async (name: string) => {
    await copyFile(path.join(dir, `${name}.key`), path.join(dir, 'key.pem'));
    await copyFile(path.join(dir, `${name}.crt`), path.join(dir, 'cert.pem'));
  };

  beforeAll(async () => {
    ({ dir, remove } = await tempDir('reload'));
    for (const name of ['first', 'second']) {
      await run('openssl', [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        `/CN=${name}.mx.test`,
        '-keyout',
        path.join(dir, `${name}.key`),
        '-out',
        path.join(dir, `${name}.crt`),
      ]);
    }
    await useCert('first');
    await writeConfig();
    const config = await loadConfig(file());
    const listener = config.smtp.listeners[0]!;
    server = new SMTPServer({
      key: await readFile(listener.tls!.key),
      cert: await readFile(listener.tls!.cert),
      logger: false,
      authOptional: true,
      disabledCommands: ['AUTH'],
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.server.address() as net.AddressInfo).port;
    reloader = new ConfigReloader({
      file: file(),
      env: {},
      config,
      log,
      parts: [smtpListenerTls(0, smtpServerInstaller(server)), logLevelReloadable(log)],
      onReloaded: (o) => outcomes.push(o),
    });
    stopListening = reloader.listen();
  });
  afterAll(async () => {
    stopListening();
    await new Promise<void>((resolve) => server.close(resolve));
    await remove();
  });

  it('gives new STARTTLS sessions the renewed certificate and keeps an open session open', async () => {
    const before = await startTls(port);
    expect(before.cn).toBe('first.mx.test');
    await useCert('second');
    const outcome = await hangUp(outcomes);
    expect(outcome).toMatchObject({
      ok: true,
      applied: ['smtp listener 0 tls', 'log level'],
      failed: [],
      needsRestart: [],
    });
    const after = await startTls(port);
    expect(after.cn).toBe('second.mx.test');
    expect(await before.send('NOOP')).toMatch(/^250/);
    expect(await after.send('NOOP')).toMatch(/^250/);
    before.close();
    after.close();
  });

  it('keeps everything when the file is invalid, and logs each problem with its key and line', async () => {
    await writeFile(file(), `spool:\n  dir: ${dir}\nsmtp:\n  listeners:\n    - role: mx\n      port: seventy\n`);
    await useCert('first');
    const outcome = await hangUp(outcomes);
    expect(outcome.ok).toBe(false);
    expect(outcome.problems).toEqual([expect.objectContaining({ key: 'smtp.listeners.0.port', line: 6 })]);
    expect(logged).toContainEqual(expect.objectContaining({ level: 50, key: 'smtp.listeners.0.port', line: 6 }));
    const session = await startTls(port);
    expect(session.cn).toBe('second.mx.test');
    session.close();
  });

  it('keeps the old certificate when the new key does not match it; applies the log level; names restart-only keys', async () => {
    await writeConfig({ log: { level: 'warn' }, hostname: 'mx2.test' });
    await copyFile(path.join(dir, 'second.key'), path.join(dir, 'key.pem')); // cert.pem is still the first one
    const outcome = await reloader.reload();
    expect(outcome.failed).toEqual([
      { name: 'smtp listener 0 tls', error: expect.stringMatching(/key values mismatch/) },
    ]);
    expect(outcome.applied).toEqual(['log level']);
    expect(outcome.needsRestart).toEqual(['hostname']);
    expect(log.level).toBe('warn');
    expect(reloader.config.hostname).toBe('mx2.test');
    const session = await startTls(port);
    expect(session.cn).toBe('second.mx.test');
    session.close();
  });
});
