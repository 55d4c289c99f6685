// The status table and docs/errors.md must say the same thing, row for row.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MailbridgeError, smtpReply, statusTable } from '../src/codes.js';

describe('status table', () => {
  it('matches docs/errors.md exactly', async () => {
    const doc = await readFile(path.join(import.meta.dirname, '../docs/errors.md'), 'utf8');
    const rows = doc
      .split('\n')
      .filter((line) => /^\| `[a-z0-9_]+` \|/.test(line))
      .map((line) =>
        line
          .split('|')
          .slice(1, -1)
          .map((cell) => cell.trim().replace(/^`|`$/g, '')),
      );
    const documented = Object.fromEntries(
      rows.map(([code, smtp, enhanced, http, retryable, text]) => [
        code,
        { smtp: Number(smtp), enhanced, http: Number(http), retryable: retryable === 'yes', text },
      ]),
    );
    expect(documented).toEqual(statusTable);
  });

  it('pairs every code with a class-consistent SMTP and enhanced code', () => {
    for (const [code, entry] of Object.entries(statusTable)) {
      expect(entry.enhanced[0], code).toBe(String(entry.smtp)[0]);
      expect(entry.retryable, code).toBe(entry.smtp >= 400 && entry.smtp < 500);
    }
  });

  it('formats replies and errors from the table', () => {
    expect(smtpReply('dmarc_reject')).toEqual({ code: 550, message: '5.7.1 Rejected by DMARC policy' });
    const err = new MailbridgeError('queue_unavailable');
    expect(err.status.smtp).toBe(451);
    expect(err.message).toBe('Queue unavailable, try again later');
  });
});
