// How `mailbridge queue` prints: `list` like `postqueue -p` (id, size, arrival, sender, then the
// recipients with their last reply in parentheses) and `--json` one object per line like `postqueue -j`.
// Times are UTC; pure functions of what src/admin/queue-inspection.ts gathered.

import type { JobView, MessageDetail, QueuedMessage } from '../admin/queue-inspection.js';

const idWidth = 19; // 18-character queue id and its state mark
const indent = ' '.repeat(idWidth + 1 + 8 + 1 + 20 + 1);

/** `postqueue -p`'s marks: `*` being delivered now; `!` failed, waits for `queue retry`; `#` held. */
function mark(m: QueuedMessage): string {
  const jobs = m.jobs;
  if (jobs.some((j) => j.state === 'active')) return '*';
  if (m.heldAt !== undefined) return '#';
  return jobs.some((j) => j.state === 'failed') ? '!' : ' ';
}

function formatTime(iso: string | undefined): string {
  return iso ? `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z` : '-';
}

function sender(m: QueuedMessage): string {
  if (m.sender === undefined) return '(spool entry missing)';
  return m.sender === '' ? 'MAILER-DAEMON' : m.sender;
}

function describeJob(j: JobView): string {
  const parts = [`${j.queue}: ${j.state}`, `${j.attemptsMade} attempt${j.attemptsMade === 1 ? '' : 's'} made`];
  if (j.nextAttemptAt) parts.push(`next ${formatTime(j.nextAttemptAt)}`);
  return parts.join(', ');
}

export function formatList(messages: readonly QueuedMessage[]): string {
  if (messages.length === 0) return 'Mail queue is empty\n';
  const lines = [`${'-Queue ID-'.padEnd(idWidth)} --Size-- ----Arrival Time---- -Sender/Recipient-------`];
  for (const m of messages) {
    lines.push(
      `${(m.queueId + mark(m)).padEnd(idWidth)} ${String(m.size ?? 0).padStart(8)} ${formatTime(m.arrivalTime).padEnd(20)} ${sender(m)}`,
    );
    lines.push(
      m.heldAt === undefined
        ? `${indent}[${m.jobs.length > 0 ? m.jobs.map(describeJob).join('; ') : 'no live job'}]`
        : `${indent}[held since ${formatTime(m.heldAt)}: waits for queue release]`,
    );
    for (const r of m.recipients) {
      if (r.reply && r.state !== 'queued') lines.push(`${indent}(${r.reply})`);
      lines.push(`${indent}${r.address} ${r.state}`);
    }
    lines.push('');
  }
  const kbytes = Math.ceil(messages.reduce((sum, m) => sum + (m.size ?? 0), 0) / 1024);
  lines.push(`-- ${kbytes} Kbytes in ${messages.length} Request${messages.length === 1 ? '' : 's'}.`);
  return `${lines.join('\n')}\n`;
}

/** One `postqueue -j` style object: its field names, plus our job and per-recipient state. */
export function jsonRecord(m: QueuedMessage): Record<string, unknown> {
  const main = m.jobs.find((j) => j.state === 'active') ?? m.jobs[0];
  return {
    queue_name: main?.queue ?? null,
    queue_id: m.queueId,
    state: main?.state ?? null,
    arrival_time: m.arrivalTime ? Math.floor(Date.parse(m.arrivalTime) / 1000) : null,
    message_size: m.size ?? null,
    sender: m.sender ?? null,
    kind: m.kind ?? null,
    spooled: m.spooled,
    held_time: m.heldAt ? Math.floor(Date.parse(m.heldAt) / 1000) : null,
    jobs: m.jobs.map((j) => ({
      queue: j.queue,
      state: j.state,
      attempts: j.attemptsMade,
      max_attempts: j.maxAttempts,
      next_attempt_time: j.nextAttemptAt ? Math.floor(Date.parse(j.nextAttemptAt) / 1000) : null,
      failed_reason: j.failedReason ?? null,
    })),
    recipients: m.recipients.map((r) => ({
      address: r.address,
      state: r.state,
      attempts: r.attempts,
      delay_reason: r.reply ?? null,
    })),
  };
}

export function formatDetail(d: MessageDetail): string {
  const lines = [
    `queue id:    ${d.queueId}${d.spooled ? '' : ' (spool entry missing)'}`,
    `kind:        ${d.kind ?? '-'}`,
    `arrival:     ${formatTime(d.arrivalTime)}`,
    `size:        ${d.size ?? '-'}`,
    `sender:      ${sender(d)}`,
    `jobs:        ${d.jobs.length > 0 ? d.jobs.map(describeJob).join('; ') : 'no live job'}`,
    ...(d.heldAt ? [`held:        since ${formatTime(d.heldAt)} (mailbridge queue release ${d.queueId})`] : []),
    ...d.jobs.filter((j) => j.failedReason).map((j) => `last error:  ${j.queue}: ${j.failedReason}`),
    'recipients:',
    ...d.recipients.map((r) => `  ${r.address} ${r.state} attempts=${r.attempts}${r.reply ? ` (${r.reply})` : ''}`),
  ];
  if (d.meta)
    lines.push(
      'meta:',
      ...JSON.stringify(d.meta, null, 2)
        .split('\n')
        .map((l) => `  ${l}`),
    );
  if (d.headerLines.length > 0) lines.push('headers:', ...d.headerLines.map((l) => `  ${l}`));
  return `${lines.join('\n')}\n`;
}
