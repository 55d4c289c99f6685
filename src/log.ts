// Builds the one pino logger from config: JSON lines (or grep-friendly text), level from config,
// secrets redacted; the log file reopens on request, so logrotate can move it (no copytruncate).
// Code that handles a message logs through `forMessage(log, queueId)` so every line carries it.

import { Writable } from 'node:stream';
import { type DestinationStream, type Logger, pino } from 'pino';
import type { Config } from './config/schema.js';

export type { Logger } from 'pino';

/** Keys never written to a log, wherever they appear in a logged object. */
const redactedPaths = [
  'password',
  '*.password',
  'password_hash',
  '*.password_hash',
  'pass',
  '*.pass',
  'auth.pass',
  'privateKey',
  '*.privateKey',
  'private_key',
  '*.private_key',
  'authorization',
  'headers.authorization',
  'redis.url',
  '*.redis.url',
];

/** Reopenable file destinations by logger, so `reopenLogFile` needs only the logger. */
const files = new WeakMap<Logger, { reopen(): void }>();

/** What the logger reads of `log:`; format defaults to json, as in the config schema. */
type LogSettings = Omit<Config['log'], 'format'> & Partial<Pick<Config['log'], 'format'>>;

export function createLogger(config: { readonly log: LogSettings }, destination?: NodeJS.WritableStream): Logger {
  const options = {
    level: config.log.level,
    base: { service: 'mailbridge' },
    redact: { paths: redactedPaths, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (destination) return pino(options, config.log.format === 'text' ? textLines(destination) : destination);
  const file = config.log.file ? pino.destination({ dest: config.log.file, mkdir: true, sync: false }) : undefined;
  // stderr, so stdout stays free for machine-readable output (the staging ready line)
  const out: DestinationStream = file ?? pino.destination(2);
  const log = pino(options, config.log.format === 'text' ? textLines(out) : out);
  if (file) files.set(log, file);
  return log;
}

/** After logrotate moved the file: write to a fresh one at the configured path (SIGHUP, SIGUSR2). */
export function reopenLogFile(log: Logger): boolean {
  const file = files.get(log);
  file?.reopen();
  return file !== undefined;
}

/** pino's JSON line as `time LEVEL key=value … msg`: one grep-able line per event, values quoted when needed. */
export function formatTextLine(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const { time, level, msg, service: _service, ...fields } = record;
  const pairs = Object.entries(fields).map(([k, v]) => `${k}=${textValue(v)}`);
  const name = levelNames[Number(level)] ?? String(level);
  // the message ends the line, unquoted; only a line break in it would split the event
  const message = String(msg ?? '').replace(/[\r\n]+/g, ' ');
  return `${String(time)} ${name} ${[...pairs, message].join(' ')}\n`;
}

const levelNames: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};

function textValue(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  // quoted when a space, quote, = or control character would split the line or the pair
  return /^[^\s"=\u0000-\u001f]*$/.test(text) && text !== '' ? text : JSON.stringify(text);
}

function textLines(out: { write(chunk: string): unknown }): Writable {
  return new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      out.write(formatTextLine(chunk.toString()));
      done();
    },
  });
}

export function forMessage(log: Logger, queueId: string): Logger {
  return log.child({ queueId });
}
