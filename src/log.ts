// Builds the one pino logger from config: JSON lines, level from config, secrets redacted.
// Code that handles a message logs through `forMessage(log, queueId)` so every line carries it.

import { type Logger, pino } from 'pino';
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

export function createLogger(config: Pick<Config, 'log'>, destination?: NodeJS.WritableStream): Logger {
  const options = {
    level: config.log.level,
    base: { service: 'mailbridge' },
    redact: { paths: redactedPaths, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (destination) return pino(options, destination);
  if (config.log.file) return pino(options, pino.destination({ dest: config.log.file, mkdir: true, sync: false }));
  // stderr, so stdout stays free for machine-readable output (the staging ready line)
  return pino(options, pino.destination(2));
}

export function forMessage(log: Logger, queueId: string): Logger {
  return log.child({ queueId });
}
