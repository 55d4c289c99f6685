// SMTP-born mail over PMTP, origin side: the SMTP entry is gone after the hand-off, yet the SMTP
// sender hears how each recipient ended. A recipient refused at notice time, one refused in the
// ack and one delivered with NOTIFY=SUCCESS each get their report once; RET=FULL returns the
// original part; an expired copy reports its undecided recipients; a copy left waiting past
// queues.delay_warning_s gets one delay warning. Two real PMTP servers, real Redis.
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PmtpSubmission } from '../../../src/dispatch/inbound-dispatch.js';
import { pmtpHandoff } from '../../../src/dispatch/pmtp-handoff.js';
import type { DsnSink } from '../../../src/mail/dsn.js';
import { expiryJobId } from '../../../src/mail/jobs.js';
import type { InboundRoute, MessageDsn, SmtpRecord } from '../../../src/mail/spool-records.js';
import { smtpRecord } from '../../support/records.js';
import { freePort } from '../../support/smtp-sink.js';
import { type PmtpNode, startNode, startPair, until } from './harness.js';

interface Sent {
  readonly to: string;
  readonly text: string;
}

/** Per-recipient blocks of a DSN's message/delivery-status part: recipient → action, status, … */
function perRecipient(dsn: string): Map<string, string> {
  const blocks = dsn.split('\r\n\r\n').filter((b) => b.includes('Final-Recipient: rfc822; '));
  return new Map(blocks.map((b) => [/Final-Recipient: rfc822; (\S+)/.exec(b)![1]!, b]));
}

const original = (to: string) =>
  `From: Alice <alice@a.example>\r\nTo: ${to}\r\nSubject: over PMTP\r\nMessage-ID: <orig-${Date.now()}@a.example>\r\n\r\nThe original text.\r\n`;

/** An SMTP-born message accepted on a's submission listener, spooled as the listener would. */
async function handOff(
  node: PmtpNode,
  rcptTo: string[],
  dsn: MessageDsn | undefined,
): Promise<{ queueId: string; ids: () => Promise<string[]> }> {
  const spool = node.service.context.spool;
  const draft = await spool.draft();
  await draft.writeBody(Readable.from([Buffer.from(original(rcptTo.join(', ')))]));
  const routes: InboundRoute[] = rcptTo.map((rcpt) => ({ rcpt, kind: 'pmtp', domain: 'b.example', via: 'directory' }));
  const record: Omit<SmtpRecord, 'queueId'> = {
    ...smtpRecord({
      role: 'submission',
      user: 'alice@a.example',
      envelope: { mailFrom: 'alice@a.example', rcptTo },
      routes,
    }),
    ...(dsn ? { dsn } : {}),
  };
  const entry = await draft.commit(record);
  const submit: PmtpSubmission = pmtpHandoff({
    config: node.config,
    spool,
    outbox: node.service.outbox,
    index: (queueId, id) => node.service.context.status.index(queueId, id),
  });
  if (entry.meta.kind !== 'smtp') throw new Error('not an SMTP entry');
  await submit({ ...entry, meta: entry.meta }, routes);
  await spool.remove(entry.queueId);
  return { queueId: entry.queueId, ids: () => node.service.context.status.messageIdsOf(entry.queueId) };
}

describe('DSNs for SMTP-born mail sent over PMTP', () => {
  const sent: Sent[] = [];
  const sink: DsnSink = async (to, message) => {
    sent.push({ to, text: message.toString('utf8') });
    return `DSN${sent.length}`;
  };
  let a: PmtpNode;
  let b: PmtpNode;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ a, b, close } = await startPair({
      a: { sendDsn: sink },
      b: { firstContact: { users: [{ address: 'nobody@b.example', default: 'deny' }] } },
    }));
    b.deliveryAnswer = (req) =>
      req.recipients.map((recipient) =>
        recipient === 'full@b.example'
          ? { recipient, status: 'rejected', code: 'unknown_user', text: 'mailbox gone' }
          : { recipient, status: 'delivered' },
      );
  });
  afterAll(async () => close());

  const about = (queueId: string) => sent.filter((s) => s.text.includes(`X-Mailbridge-Queue-ID: ${queueId}`));

  it('reports a refusal at notice time, a refusal in the ack and a delivery asked for, each once', async () => {
    const { queueId, ids } = await handOff(a, ['ok@b.example', 'nobody@b.example', 'full@b.example'], {
      ret: 'FULL',
      envid: 'ENV-PMTP-1',
      recipients: {
        'ok@b.example': { notify: ['SUCCESS', 'FAILURE'] },
        'nobody@b.example': { orcpt: 'rfc822;Nobody@old.example' },
      },
    });
    const [id] = await ids();
    await until(async () => {
      const states = (await a.service.context.status.get(id!)).map((s) => s.state);
      return states.length === 3 && states.every((s) => ['delivered', 'rejected'].includes(s));
    });
    const reported = await until(async () => {
      const blocks = new Map(about(queueId).flatMap((d) => [...perRecipient(d.text)]));
      return blocks.size === 3 ? blocks : undefined;
    });
    // and nothing more, whatever job or retry sees the final states again
    await new Promise((r) => setTimeout(r, 1500));
    const dsns = about(queueId);
    expect(dsns.flatMap((d) => [...perRecipient(d.text).keys()]).sort()).toEqual([
      'full@b.example',
      'nobody@b.example',
      'ok@b.example',
    ]);
    expect(dsns.every((d) => d.to === 'alice@a.example')).toBe(true);
    expect(reported.get('nobody@b.example')).toMatch(
      /^Original-Recipient: rfc822;Nobody@old\.example\r\nFinal-Recipient: rfc822; nobody@b\.example\r\nAction: failed\r\nStatus: 5\.7\.1\r\nRemote-MTA: dns; b\.example\r\nDiagnostic-Code: x-pmtp; rejected: first_contact_denied /,
    );
    expect(reported.get('full@b.example')).toMatch(
      /Action: failed\r\nStatus: 5\.1\.1\r\nRemote-MTA: dns; b\.example\r\nDiagnostic-Code: x-pmtp; rejected: unknown_user mailbox gone/,
    );
    expect(reported.get('ok@b.example')).toMatch(/Action: delivered\r\nStatus: 2\.0\.0\r\n/);
    for (const d of dsns) {
      expect(d.text).toContain('Original-Envelope-Id: ENV-PMTP-1\r\n');
      expect(d.text).toContain('Content-Type: message/rfc822');
      expect(d.text).toContain('The original text.');
    }
  });

  it('reports recipients still undecided when the copy expires', async () => {
    const port = await freePort();
    // a peer that never answers: the notice keeps failing, the recipient stays notified
    const lonely = await startNode({
      domain: 'a.example',
      port,
      peers: { 'b.example': { endpoint: `http://127.0.0.1:${await freePort()}` } },
      sendDsn: sink,
    });
    try {
      const { queueId, ids } = await handOff(lonely, ['late@b.example'], undefined);
      const [id] = await ids();
      const copy = await lonely.service.context.outbox.current(id!);
      // the expiry job waits out the notice lifetime; run its work now
      await lonely.service.context.queues.add(
        'notice',
        { action: 'expire', queueId: copy!.queueId },
        { jobId: `${expiryJobId(copy!.queueId)}-now` },
      );
      const dsn = await until(async () => about(queueId)[0]);
      expect(dsn.to).toBe('alice@a.example');
      expect(perRecipient(dsn.text).get('late@b.example')).toMatch(
        /Action: failed\r\nStatus: 5\.4\.7\r\nRemote-MTA: dns; b\.example\r\nDiagnostic-Code: x-pmtp; expired: no decision from b\.example in time/,
      );
      expect(dsn.text).toContain('Content-Type: text/rfc822-headers');
      expect(await lonely.service.context.spool.has(copy!.queueId)).toBe(false);
    } finally {
      await lonely.close();
    }
  });

  it('warns once about recipients still waiting after queues.delay_warning_s', async () => {
    const lonely = await startNode({
      domain: 'a.example',
      port: await freePort(),
      peers: { 'b.example': { endpoint: `http://127.0.0.1:${await freePort()}` } },
      sendDsn: sink,
      delayWarningS: 1,
    });
    try {
      const { queueId, ids } = await handOff(lonely, ['slow@b.example', 'quiet@b.example'], {
        recipients: { 'quiet@b.example': { notify: ['FAILURE'] } },
      });
      const dsn = await until(async () => about(queueId)[0]);
      await new Promise((r) => setTimeout(r, 1000));
      expect(about(queueId)).toHaveLength(1);
      // the warning came from the copy's one timer, which now waits for the lifetime to end
      const copy = await lonely.service.context.outbox.current((await ids())[0]!);
      const timer = await until(async () => {
        const job = await lonely.service.context.queues.queue('notice').getJob(expiryJobId(copy!.queueId));
        return (await job?.getState()) === 'delayed' && !job?.data.warn ? job : undefined;
      });
      expect(timer.data).toEqual({ action: 'expire', queueId: copy!.queueId });
      expect(await lonely.service.context.spool.has(copy!.queueId)).toBe(true);
      expect(dsn.text).toContain('Subject: Delayed Mail (still being retried)');
      expect([...perRecipient(dsn.text).keys()]).toEqual(['slow@b.example']);
      expect(perRecipient(dsn.text).get('slow@b.example')).toMatch(
        /Action: delayed\r\nStatus: 4\.\d+\.\d+\r\nRemote-MTA: dns; b\.example\r\n.*\r\nWill-Retry-Until: /,
      );
    } finally {
      await lonely.close();
    }
  });
});
