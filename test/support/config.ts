// Builds a validated Config for tests from a partial YAML-shaped object, through the real loader.

import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { redisUrl } from './redis.js';

export function testConfig(overrides: Record<string, unknown> & { spool: { dir: string } }, prefix?: string): Config {
  const raw = { redis: { url: redisUrl, ...(prefix ? { prefix } : {}) }, log: { level: 'silent' }, ...overrides };
  return parseConfig(stringify(raw), '/virtual/test.yaml');
}
