// The PMTP hand-off on a real spool entry: a PMTP-Token goes only to the domain that issued it, for
// one of that domain's recipients; no manifest or original part keeps the field (the original
// part's digest still matches its bytes); the contact allowlist grows only for a sender the login owns.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pmtpHandoff } from '../../src/dispatch/pmtp-handoff.js';
import type { SmtpRecord } from '../../src/mail/spool-records.js';
import { generateDomainKey } from '../../src/native/protocol/domain-keys.js';
import type { Manifest } from '../../src/native/protocol/message-format.js';
import { issueSenderToken } from '../../src/native/protocol/sender-token.js';
import { Spool } from '../../src/spool/spool.js';
import { smtpRecord } from '../support/records.js';
import { tempDir } from '../support/tmp.js';

const NOW = Math.floor(Date.now() / 1000);
const token = (issuer: string, recipient: string) =>
  issueSenderToken(
    {
      token_id: `tok_${createHash('sha256').update(recipient).digest('hex').slice(0, 16)}`,
      issuer,
      recipient,
      scope: { address: 'alice@native.test' },
      expires: NOW + 3600,
    },
    generateDomainKey().privateKey,
  );

interface Submitted {
  manifest: Manifest;
  body: Buffer;
  recipients: readonly string[];
  tokens?: readonly string[];
}

describe('PMTP hand-off', () => {
  let spool: Spool;
  let remove: () => Promise<void>;
  const forBeta = token('beta.test', 'bob@beta.test');
  const forGamma = token('gamma.test', 'carol@gamma.test');
  const forBetaOther = token('beta.test', 'nobody@beta.test');

  beforeAll(async () => {
    let dir: string;
    ({ dir, remove } = await tempDir('handoff'));
    spool = new Spool(dir);
    await spool.init();
  });
  afterAll(() => remove());

  async function handOff(message: string, options: { user: string; mailFrom: string; senders?: string[] }) {
    const draft = await spool.draft();
    await draft.writeBody(
      (async function* () {
        yield Buffer.from(message);
      })(),
    );
    const rcptTo = ['bob@beta.test', 'carol@gamma.test'];
    const entry = await draft.commit(
      smtpRecord({
        envelope: { mailFrom: options.mailFrom, rcptTo },
        role: 'submission',
        user: options.user,
        routes: rcptTo.map((rcpt) => ({ rcpt, kind: 'pmtp', domain: rcpt.split('@')[1]!, via: 'directory' })),
      }),
    );
    const submitted: Submitted[] = [];
    const allowlisted: string[] = [];
    const submit = pmtpHandoff({
      config: {
        hostname: 'mx.native.test',
        pmtp: { domain: 'native.test' },
        smtp: { accounts: [{ user: options.user, password_hash: 'x', senders: options.senders ?? [] }] },
      } as never,
      spool,
      outbox: {
        async submit(input) {
          const chunks: Buffer[] = [];
          for await (const c of input.body) chunks.push(Buffer.from(c));
          submitted.push({ ...input, body: Buffer.concat(chunks) });
        },
      },
      allowlistCorrespondents: async (sender) => void allowlisted.push(sender),
    });
    await submit({ ...entry, meta: entry.meta as SmtpRecord }, (entry.meta as SmtpRecord).routes);
    return { submitted, allowlisted };
  }

  const message = [
    'From: <alice@native.test>',
    'To: <bob@beta.test>, <carol@gamma.test>',
    `PMTP-Token: ${forBeta}`,
    `pmtp-token: ${forGamma}`,
    `PMTP-Token: ${forBetaOther}`,
    'PMTP-Token: not-a-token',
    'Authentication-Results: mx.native.test; dkim=pass header.d=bank.test',
    'Subject: tokens',
    '',
    'Hello.',
    '',
  ].join('\r\n');

  it('sends each token only to its issuer, for one of its recipients, and strips the field everywhere', async () => {
    const { submitted } = await handOff(message, { user: 'alice@native.test', mailFrom: 'alice@native.test' });
    const to = (domain: string) => submitted.find((s) => s.recipients.every((r) => r.endsWith(`@${domain}`)))!;
    expect(submitted).toHaveLength(2);
    expect(to('beta.test').tokens).toEqual([forBeta]);
    expect(to('gamma.test').tokens).toEqual([forGamma]);
    for (const { manifest, body } of submitted) {
      expect(manifest.headers.map(([name]) => name.toLowerCase())).not.toContain('pmtp-token');
      expect(manifest.headers.map(([name]) => name)).toContain('Subject');
      expect(body.toString('latin1')).not.toMatch(/pmtp-token|mx\.native\.test/i);
      // the original part is the last bytes of the body, and the manifest describes exactly them
      const original = manifest.parts.at(-1)!;
      expect(original.role).toBe('original-rfc5322');
      const bytes = body.subarray(body.length - original.length);
      expect(createHash('sha256').update(bytes).digest('base64url')).toBe(original.sha256);
      expect(bytes.toString('latin1')).toMatch(/^From: <alice@native\.test>\r\nTo: .*\r\nSubject: tokens\r\n\r\n/);
    }
  });

  it('adds correspondents to the allowlist only for a sender the login owns', async () => {
    const own = await handOff(message, { user: 'alice@native.test', mailFrom: 'alice@native.test' });
    expect(own.allowlisted).toEqual(['alice@native.test']);
    const any = await handOff(message, { user: 'bulk@native.test', mailFrom: 'alice@native.test', senders: ['*'] });
    expect(any.submitted).toHaveLength(2);
    expect(any.allowlisted).toEqual([]);
  });
});
