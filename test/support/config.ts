// Builds a validated Config for tests from a partial YAML-shaped object, through the real loader.

import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { redisUrl } from './redis.js';

export function testConfig(overrides: Record<string, unknown> & { spool: { dir: string } }, prefix?: string): Config {
  // peers in tests listen on loopback over plain http, which the egress guard refuses unless allowed
  const raw = {
    redis: { url: redisUrl, ...(prefix ? { prefix } : {}) },
    log: { level: 'silent' },
    egress: { allow_hosts: ['127.0.0.1'] },
    ...overrides,
  };
  return parseConfig(stringify(raw), '/virtual/test.yaml');
}
