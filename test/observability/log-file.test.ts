// The log as an admin rotates and reads it: text mode gives one grep-able line per event with its
// fields (secrets still redacted), and a running `mailbridge start` writes to a fresh file after
// logrotate moved the old one and sent SIGUSR2, with no line lost or written to the moved file.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createLogger, formatTextLine } from '../../src/log.js';
import { kill9, startGatewayProcess } from '../support/gateway-process.js';
import { startMailbridge } from '../support/mailbridge.js';
import { deleteKeys, redisUrl, testPrefix } from '../support/redis.js';
import { startSink } from '../support/smtp-sink.js';
import { sendWithSwaks } from '../support/swaks.js';
import { tempDir } from '../support/tmp.js';

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('log file', () => {
  const prefix = testPrefix();
  let dir: string;
  let remove: () => Promise<void>;
  beforeAll(async () => ({ dir, remove } = await tempDir('log-file')));
  afterAll(async () => {
    await deleteKeys(prefix);
    await remove();
  });

  it('text mode: time, level, key=value pairs quoted when needed, then the message; passwords redacted', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString()));
    const log = createLogger({ log: { level: 'info', format: 'text' } }, out);
    log.info({ queueId: '01N9427XW31Y80b0VX', client: '192.0.2.1', helo: 'a b', password: 'hunter2' }, 'accepted');
    await new Promise((r) => setImmediate(r));
    expect(text).toMatch(
      /^\d{4}-\d\d-\d\dT[\d:.]+Z info queueId=01N9427XW31Y80b0VX client=192\.0\.2\.1 helo="a b" password=\[redacted\] accepted\n$/,
    );
    expect(formatTextLine('not json')).toBe('not json');
  });

  it('a running gateway reopens its log file on SIGUSR2 after logrotate moved it', async () => {
    const file = path.join(dir, 'mailbridge.yaml');
    const logFile = path.join(dir, 'mailbridge.log');
    await writeFile(
      file,
      stringify({
        redis: { url: redisUrl, prefix },
        spool: { dir: path.join(dir, 'spool') },
        smtp: { listeners: [{ role: 'mx', host: '127.0.0.1', port: 0 }] },
        metrics: { enabled: false },
        log: { level: 'info', file: logFile, format: 'text' },
      }),
    );
    const gateway = await startGatewayProcess(file);
    try {
      await until(async () => (await readFile(logFile, 'utf8').catch(() => '')).includes('smtp listener ready'));
      await rename(logFile, `${logFile}.1`);
      gateway.child.kill('SIGUSR2');
      await until(async () => (await readFile(logFile, 'utf8').catch(() => '')).includes('log file reopened'));
      expect(await readFile(`${logFile}.1`, 'utf8')).not.toContain('log file reopened');
      expect(await readFile(logFile, 'utf8')).toMatch(
        / info signal=SIGUSR2 file=\S+mailbridge\.log log file reopened\n/,
      );
    } finally {
      await kill9(gateway.child);
    }
  });

  it('follows one message from connect to delivery: grep the queue id, then its session', async () => {
    const sink = await startSink();
    const sub = path.join(dir, 'follow');
    await mkdir(sub);
    const gateway = await startMailbridge(sub, {
      spool: { dir: 'spool' },
      smtp: { listeners: [{ role: 'mx', host: '127.0.0.1', port: 0 }] },
      domains: { postfix: { 'sink.test': { host: '127.0.0.1', port: sink.port } } },
    });
    try {
      const reply = await sendWithSwaks({
        server: `127.0.0.1:${gateway.port('mx')}`,
        from: 'alice@legacy.test',
        to: 'bob@sink.test',
        subject: 'follow me',
      });
      const queueId = /queued as (\w+)/.exec(reply)![1]!;
      const lines = async () =>
        (await gateway.log())
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as Record<string, unknown>);
      await until(async () => (await lines()).some((l) => l.queueId === queueId && l.msg === 'delivery'));
      const mine = (await lines()).filter((l) => l.queueId === queueId);
      const queued = mine.find((l) => l.msg === 'queued')!;
      expect(queued).toMatchObject({ client: '127.0.0.1', helo: expect.any(String), tls: false });
      expect(queued.messageId).toMatch(/^<.+>$/);
      expect(mine.find((l) => l.msg === 'delivery')).toMatchObject({
        to: 'bob@sink.test',
        relay: expect.stringContaining(`127.0.0.1`),
        status: 'sent',
        dsn: expect.stringMatching(/^2\./),
        delays: expect.stringMatching(/^\d+\.\d\d\/\d+\.\d\d$/),
      });
      const session = (await lines()).filter((l) => l.session === queued.session).map((l) => l.msg);
      expect(session[0]).toBe('connect');
      expect(session).toContain('queued');
      await until(async () => (await lines()).some((l) => l.session === queued.session && l.msg === 'disconnect'));
    } finally {
      await gateway.stop();
      await sink.stop();
    }
  }, 60_000);
});
