// The read-only queue page on a real gateway: mail deferred to a dead next hop shows up at /queue
// (HTML) and /queue.json with the CLI's filters, a bad filter is a 400, the page never frames or
// caches, and what a sender wrote is escaped. With Debian's chromium, a real browser renders it.
import { execFile, spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { queuePage } from '../../src/admin/queue-page.js';
import { loadConfig } from '../../src/config/load.js';
import { type RunningGateway, startGateway } from '../../src/gateway.js';
import { createLogger } from '../../src/log.js';
import { deleteKeys, redisUrl, testPrefix } from '../support/redis.js';
import { sendWithSwaks } from '../support/swaks.js';
import { tempDir } from '../support/tmp.js';

const run = promisify(execFile);
const chromium = ['chromium', 'chromium-browser'].find((b) => spawnSync(b, ['--version']).status === 0);

describe('queue page', () => {
  const prefix = testPrefix();
  let dir: string;
  let remove: () => Promise<void>;
  let gateway: RunningGateway;
  let base: string;

  beforeAll(async () => {
    ({ dir, remove } = await tempDir('queue-page'));
    const file = path.join(dir, 'mailbridge.yaml');
    await writeFile(
      file,
      stringify({
        redis: { url: redisUrl, prefix },
        spool: { dir: 'spool' },
        smtp: { listeners: [{ role: 'mx', host: '127.0.0.1', port: 0 }] },
        // nothing listens on port 1: mail for it waits, deferred
        domains: { postfix: { 'down.test': { host: '127.0.0.1', port: 1 } } },
        metrics: { host: '127.0.0.1', port: 0, queue_view: true },
        log: { level: 'silent' },
      }),
    );
    const config = await loadConfig(file);
    gateway = await startGateway(config, createLogger(config));
    base = `http://${gateway.listening.find((l) => l.service === 'metrics')!.address}`;
    const mx = gateway.listening.find((l) => l.service === 'smtp mx')!.address;
    for (const to of ['carol@down.test', 'dave@down.test'])
      expect(await sendWithSwaks({ server: mx, from: 'alice@legacy.test', to, subject: 'waits' })).toMatch(
        /250 2\.0\.0/,
      );
  }, 60_000);
  afterAll(async () => {
    await gateway?.close();
    await deleteKeys(prefix);
    await remove();
  });

  it('lists queued mail as JSON and HTML, filtered like the CLI', async () => {
    let listed: { messages: { queueId: string; recipients: { address: string }[] }[] } = { messages: [] };
    for (let i = 0; i < 50 && listed.messages.length < 2; i++) {
      listed = (await (await fetch(`${base}/queue.json`)).json()) as typeof listed;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(listed.messages.map((m) => m.recipients[0]!.address).sort()).toEqual(['carol@down.test', 'dave@down.test']);
    const one = (await (
      await fetch(`${base}/queue.json?domain=down.test&sender=alice@legacy.test`)
    ).json()) as typeof listed;
    expect(one.messages).toHaveLength(2);
    const none = (await (await fetch(`${base}/queue.json?older_than=1d`)).json()) as typeof listed;
    expect(none.messages).toHaveLength(0);
    expect((await fetch(`${base}/queue.json?older_than=soon`)).status).toBe(400);

    const page = await fetch(`${base}/queue?domain=down.test`);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const html = await page.text();
    for (const m of listed.messages) expect(html).toContain(`data-queue-id="${m.queueId}"`);
    expect(html).toContain('<p id="count">2 message(s)</p>');
    // read-only: nothing but GET routes
    expect((await fetch(`${base}/queue`, { method: 'POST' })).status).toBe(404);
  });

  it('escapes what senders wrote', async () => {
    const page = await queuePage(
      {
        list: async () => [
          {
            queueId: '01N9427XW31Y80b0VX',
            spooled: true,
            sender: '"<script>alert(1)</script>"@evil.test',
            recipients: [{ address: 'bob@x.test', state: 'deferred', attempts: 1, reply: '451 <img src=x>' }],
            jobs: [],
          },
        ],
      },
      { query: {}, format: 'html' },
    );
    expect(page.body).not.toContain('<script>');
    expect(page.body).not.toContain('<img');
    expect(page.body).toContain('&#60;script&#62;');
  });

  it.skipIf(!chromium)(
    'renders in a real browser (headless chromium)',
    async () => {
      const { stdout } = await run(
        chromium!,
        ['--headless', '--no-sandbox', '--disable-gpu', '--dump-dom', `${base}/queue?domain=down.test`],
        { timeout: 60_000 },
      );
      expect(stdout).toMatch(/<p id="count">2 message\(s\)<\/p>/);
      expect(stdout).toContain('carol@down.test');
    },
    90_000,
  );
});
