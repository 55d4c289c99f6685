// `mailbridge demo` (`npm run demo`): starts a staging network (alpha.test, beta.test natively,
// legacy.test over plain SMTP), sends mail along every path and prints where each message landed.

import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import nodemailer from 'nodemailer';
import { loadConfig } from '../config/load.js';
import { type ReadyLine, startStaging } from '../staging/staging-network.js';
import { type Command, exitCode, parseOptions } from './command.js';
import { runTokens } from './tokens.js';

interface DemoStep {
  readonly title: string;
  /** a pre-approved sender token the recipient's domain issues first (sent as PMTP-Token) */
  readonly token?: boolean;
  readonly via: 'mx' | 'submission';
  readonly from: string;
  readonly to: string;
  readonly gateway: string;
  /** the mailbox where the message must land */
  readonly lands: { domain: string; user: string };
}

const steps: readonly DemoStep[] = [
  {
    title: 'legacy SMTP -> alpha (checked, converted, delivered)',
    via: 'mx',
    from: 'carol@legacy.test',
    to: 'bob@alpha.test',
    gateway: 'alpha.test',
    lands: { domain: 'alpha.test', user: 'bob' },
  },
  {
    title: 'alpha -> beta over PMTP (notice, challenge, pull, ack)',
    via: 'submission',
    from: 'postmaster@alpha.test',
    to: 'carol@beta.test',
    gateway: 'alpha.test',
    lands: { domain: 'beta.test', user: 'carol' },
  },
  {
    title: 'alpha -> beta over PMTP with a sender token (no challenge)',
    token: true,
    via: 'submission',
    from: 'postmaster@alpha.test',
    to: 'dan@beta.test',
    gateway: 'alpha.test',
    lands: { domain: 'beta.test', user: 'dan' },
  },
  {
    title: 'alpha -> legacy over SMTP (DKIM-signed)',
    via: 'submission',
    from: 'postmaster@alpha.test',
    to: 'dave@legacy.test',
    gateway: 'alpha.test',
    lands: { domain: 'legacy.test', user: 'dave' },
  },
];

export const demoCommand: Command = {
  summary: 'run the staging network and send mail along every path (npm run demo)',
  help: 'Usage: mailbridge demo [--dir DIR] [--redis URL]\n\nStarts staging in DIR (a new temp folder by default), sends one message per path, prints the trail, exits 0 when every message landed.',
  async run(argv, { env, stdout, stderr }) {
    const { values } = parseOptions(argv, { dir: { type: 'string' }, redis: { type: 'string' } });
    const dir = values.dir ?? (await mkdtemp(path.join(tmpdir(), 'mailbridge-demo-')));
    console.log = (...args: unknown[]) => console.error(...args);
    stdout.write(`mailbridge demo: starting staging in ${dir}\n`);
    const network = await startStaging({
      dir,
      domains: ['alpha.test', 'beta.test'],
      legacy: ['legacy.test'],
      redis: values.redis,
      env,
      logLevel: 'warn',
    });
    let failures = 0;
    try {
      printNetwork(network.ready, stdout);
      for (const step of steps) {
        const result = await runStep(network.ready, step);
        failures += result.ok ? 0 : 1;
        stdout.write(`\n* ${step.title}\n  ${step.from} -> ${step.to} via ${step.gateway} ${step.via}\n`);
        for (const line of result.trail) stdout.write(`  ${line}\n`);
      }
    } catch (err) {
      stderr.write(`mailbridge demo: ${err instanceof Error ? err.message : String(err)}\n`);
      failures++;
    } finally {
      await network.close();
    }
    stdout.write(
      failures === 0
        ? '\nAll messages landed. Logs and Maildirs are in the folder above.\n'
        : `\n${failures} path(s) failed; see the logs in ${dir}\n`,
    );
    return failures === 0 ? exitCode.ok : exitCode.software;
  },
};

function printNetwork(ready: ReadyLine, out: NodeJS.WritableStream): void {
  for (const [domain, d] of Object.entries(ready.domains))
    out.write(`  ${domain.padEnd(12)} mx ${d.mx}  submission ${d.submission}  pmtp ${d.pmtp}\n`);
  for (const [domain, l] of Object.entries(ready.legacy))
    out.write(`  ${domain.padEnd(12)} smtp ${l.smtp} (legacy, no PMTP)\n`);
}

async function runStep(ready: ReadyLine, step: DemoStep): Promise<{ ok: boolean; trail: string[] }> {
  const gw = ready.domains[step.gateway]!;
  const [host, port] = (step.via === 'mx' ? gw.mx : gw.submission).split(':');
  const transport = nodemailer.createTransport({
    host,
    port: Number(port),
    secure: false,
    ignoreTLS: true,
    auth: step.via === 'submission' ? { user: gw.user, pass: gw.password } : undefined,
  });
  const subject = `mailbridge demo step ${steps.indexOf(step) + 1}`;
  const token = step.token ? await issueToken(ready.dir, step.lands.domain, step.to, step.from) : undefined;
  const headers = token ? { 'PMTP-Token': token } : undefined;
  const info = await transport.sendMail({
    from: step.from,
    to: step.to,
    subject,
    text: `Sent by mailbridge demo.\r\n`,
    headers,
  });
  transport.close();
  const queueId = /queued as (\S+)/.exec(info.response)?.[1] ?? '?';
  const trail = [
    ...(token ? [`token issued by ${step.lands.domain} for ${step.from}, 1 use`] : []),
    `SMTP: ${info.response}`,
    `queue id ${queueId}`,
  ];
  const file = await waitForMail(
    path.join(ready.dir, step.lands.domain, 'Maildir', step.lands.user, 'new'),
    subject,
    20_000,
  );
  if (!file)
    return { ok: false, trail: [...trail, `NOT delivered to ${step.lands.user}@${step.lands.domain} within 20 s`] };
  const text = await readFile(file, 'utf8');
  const verdicts = /^Authentication-Results:[^\n]*(?:\n[ \t][^\n]*)*/m.exec(text)?.[0].replace(/\s+/g, ' ');
  if (verdicts) trail.push(verdicts);
  if (/^DKIM-Signature:/m.test(text)) trail.push('DKIM-Signature: present');
  trail.push(`landed in ${file}`);
  return { ok: true, trail };
}

/** What `mailbridge tokens issue` does, run against the recipient domain's staging config. */
async function issueToken(dir: string, domain: string, recipient: string, sender: string): Promise<string> {
  const config = await loadConfig(path.join(dir, domain, 'mailbridge.yaml'));
  let printed = '';
  const out = new Writable({
    write(chunk: Buffer, _encoding, done) {
      printed += chunk.toString();
      done();
    },
  });
  const code = await runTokens(
    config,
    ['issue', '--recipient', recipient, '--scope', sender, '--max-uses', '1', '--expires', '1h'],
    out,
  );
  const token = printed.trim().split('\n').at(-1);
  if (code !== 0 || !token) throw new Error(`could not issue a token: ${printed}`);
  return token;
}

async function waitForMail(dir: string, subject: string, timeoutMs: number): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      const file = path.join(dir, name);
      if ((await readFile(file, 'utf8')).includes(`Subject: ${subject}`)) return file;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}
