// The read-only queue page on the operator's HTTP port (`metrics.queue_view`): what
// `mailbridge queue list` shows, as HTML for a browser or JSON, with the same filters. It changes
// nothing: deletions and retries go through `mailbridge queue`, so spool and status stay consistent.

import { matchesFilter, type QueueFilter } from './queue-filter.js';
import type { QueuedMessage, QueueInspector } from './queue-inspection.js';

export interface QueuePageRequest {
  readonly query: Readonly<Record<string, string | undefined>>;
  /** `json` for application/json, else HTML */
  readonly format: 'html' | 'json';
}

export interface PageResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

const ageUnits: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** Query values as the CLI's flags: an age like `2d`; anything unparsable is a 400, not a guess. */
function filterOf(query: QueuePageRequest['query']): QueueFilter | string {
  const age = (name: string): number | undefined | string => {
    const v = query[name];
    if (v === undefined || v === '') return undefined;
    const m = /^(\d{1,9})([smhd]?)$/.exec(v);
    return m ? Number(m[1]) * ageUnits[m[2] || 's']! : `bad ${name}: ${v}`;
  };
  const older = age('older_than');
  const newer = age('newer_than');
  if (typeof older === 'string') return older;
  if (typeof newer === 'string') return newer;
  const text = (name: string) => (query[name] ? query[name]!.slice(0, 254) : undefined);
  return { domain: text('domain'), sender: text('sender'), state: text('state'), olderThanS: older, newerThanS: newer };
}

export async function queuePage(
  inspector: Pick<QueueInspector, 'list'>,
  request: QueuePageRequest,
  nowMs = Date.now(),
): Promise<PageResponse> {
  const filter = filterOf(request.query);
  if (typeof filter === 'string') return { status: 400, contentType: 'text/plain; charset=utf-8', body: `${filter}\n` };
  const messages = (await inspector.list()).filter((m) => matchesFilter(m, filter, nowMs));
  if (request.format === 'json')
    return { status: 200, contentType: 'application/json; charset=utf-8', body: JSON.stringify({ messages }) };
  return { status: 200, contentType: 'text/html; charset=utf-8', body: render(messages, filter, nowMs) };
}

function html(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function render(messages: readonly QueuedMessage[], filter: QueueFilter, nowMs: number): string {
  const input = (name: string, value: string | undefined, hint: string) =>
    `<label>${name} <input name="${name}" value="${html(value ?? '')}" placeholder="${hint}"></label>`;
  const rows = messages
    .map((m) => {
      const state = m.heldAt ? 'held' : m.jobs.map((j) => `${j.queue}: ${j.state}`).join(', ') || 'no live job';
      const recipients = m.recipients
        .map((r) => `<li>${html(r.address)} <b>${html(r.state)}</b>${r.reply ? ` <q>${html(r.reply)}</q>` : ''}</li>`)
        .join('');
      return `<tr data-queue-id="${html(m.queueId)}"><td><code>${html(m.queueId)}</code></td><td>${m.size ?? ''}</td><td>${html(m.arrivalTime ?? '')}</td><td>${html(m.sender === '' ? 'MAILER-DAEMON' : (m.sender ?? '(spool entry missing)'))}</td><td>${html(state)}</td><td><ul>${recipients}</ul></td></tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="30">
<title>mailbridge queue</title>
<style>body{font:14px system-ui,sans-serif;margin:1em}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:4px;text-align:left;vertical-align:top}ul{margin:0;padding-left:1em}q{color:#666}</style>
</head><body>
<h1>mailbridge queue</h1>
<p>Read-only, refreshed every 30 s (${html(new Date(nowMs).toISOString())}). Retry, hold or delete with <code>mailbridge queue</code>.</p>
<form method="get">${input('domain', filter.domain, 'example.org')} ${input('sender', filter.sender, 'alice@example.org or <>')} ${input('state', filter.state, 'deferred, held, failed')} ${input('older_than', filter.olderThanS === undefined ? undefined : `${filter.olderThanS}s`, '2d')} <button>Filter</button></form>
<p id="count">${messages.length} message(s)</p>
<table><thead><tr><th>Queue id</th><th>Size</th><th>Arrival</th><th>Sender</th><th>State</th><th>Recipients</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</body></html>
`;
}
