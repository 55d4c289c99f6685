// The `node` section of a fleet node: its keys are checked where the config is read, paths are
// resolved against the config file, and an S3 spool (shared queues) refuses it.
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';

function problemsOf(text: string): ConfigError['problems'] {
  try {
    parseConfig(text, '/etc/mailbridge/mailbridge.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const node = 'node:\n  id: mx2\n  internal_url: http://10.0.0.2:8025\n  secret_file: node-secret\n';

describe('node config', () => {
  it('reads a node section, with its secret file next to the config', () => {
    const config = parseConfig(`spool:\n  dir: /var/spool/mailbridge\n${node}`, '/etc/mailbridge/mailbridge.yaml');
    expect(config.node).toEqual({
      id: 'mx2',
      internal_url: 'http://10.0.0.2:8025',
      secret_file: '/etc/mailbridge/node-secret',
      forward_timeout_s: 30,
    });
  });

  it('names the key of a bad id or URL', () => {
    const problems = problemsOf(
      'spool:\n  dir: /s\nnode:\n  id: "mx 2"\n  internal_url: http://10.0.0.2:8025/pmtp\n  secret_file: f\n',
    );
    expect(problems.map((p) => p.key).sort()).toEqual(['node.id', 'node.internal_url']);
  });

  it('refuses a node on an S3 spool, whose gateways share their queues', () => {
    const problems = problemsOf(`spool:\n  dir: /s\n  backend: s3\n  s3:\n    bucket: mail-spool\n${node}`);
    expect(problems.map((p) => [p.key, p.message])).toEqual([['node', expect.stringMatching(/folder spools/)]]);
  });
});
