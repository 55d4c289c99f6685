import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, type ConfigProblem, loadConfig, parseConfig } from '../../src/config/load.js';

function problemsOf(text: string, env = {}): ConfigError['problems'] {
  try {
    parseConfig(text, 'mailbridge.yaml', env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('fills Postfix retry defaults and freezes the result', () => {
    const config = parseConfig('spool:\n  dir: /var/spool/mb\n', '/etc/mailbridge/mailbridge.yaml');
    expect(config.queues.retry).toEqual({ initial_delay_s: 300, max_delay_s: 4000, lifetime_s: 432_000, jitter: 0.1 });
    expect(config.queues.outbound.concurrency).toBe(10);
    expect(config.redis.prefix).toBe('{mailbridge}');
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.queues.retry)).toBe(true);
    expect(() => {
      (config.queues.retry as { lifetime_s: number }).lifetime_s = 1;
    }).toThrow(TypeError);
  });

  it('loads the old key domains.native as domains.mailbox, warning with its line; both at once is an error', () => {
    const warnings: ConfigProblem[] = [];
    const text = ['spool:', '  dir: /tmp/x', 'domains:', '  native: [Old.Example]', ''].join('\n');
    const config = parseConfig(text, 'mailbridge.yaml', {}, (w) => warnings.push(w));
    expect(config.domains.mailbox).toEqual(['old.example']);
    // the domain has no recipient source either: that warning is its own, under the new name
    expect(warnings).toEqual([
      { key: 'domains.native', line: 4, message: expect.stringMatching(/^deprecated: renamed to domains\.mailbox/) },
      { key: 'domains.mailbox.0', line: expect.any(Number), message: expect.stringMatching(/no recipient source/) },
    ]);
    const quiet: ConfigProblem[] = [];
    parseConfig(text.replace('native:', 'mailbox:'), 'mailbridge.yaml', {}, (w) => quiet.push(w));
    expect(quiet.filter((w) => /deprecated/.test(w.message))).toEqual([]);
    const both = problemsOf([...text.split('\n').slice(0, 4), '  mailbox: [new.example]', ''].join('\n'));
    expect(both).toEqual([
      { key: 'domains.native', line: 4, message: expect.stringMatching(/keep only domains\.mailbox/) },
    ]);
  });

  it('names the key and line of a wrong type', () => {
    const text = [
      'spool:',
      '  dir: /tmp/x',
      'smtp:',
      '  listeners:',
      '    - role: mx',
      '      port: "twenty-five"',
      '',
    ].join('\n');
    const problems = problemsOf(text);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ key: 'smtp.listeners.0.port', line: 6 });
    expect(problems[0]!.message).toMatch(/number/);
  });

  it('asks for pmtp.public_url when the PMTP listener is not on loopback', () => {
    const text = ['spool:', '  dir: /tmp/x', 'pmtp:', '  domain: a.example', '  listen:', '    host: 0.0.0.0', ''];
    const problems = problemsOf(text.join('\n'));
    expect(problems).toEqual([{ key: 'pmtp.public_url', line: 3, message: expect.stringMatching(/^required when/) }]);
    const fixed = [...text.slice(0, 4), '  public_url: https://pmtp.a.example', ...text.slice(4)].join('\n');
    expect(parseConfig(fixed, 'mailbridge.yaml').pmtp.public_url).toBe('https://pmtp.a.example');
  });

  it('reports every problem at once, unknown keys at their own line', () => {
    const text = ['spool:', '  dir: /tmp/x', 'redis:', '  url: http://nope', 'queus:', '  retry: {}', ''].join('\n');
    const problems = problemsOf(text);
    expect(problems.map((p) => [p.key, p.line])).toEqual(
      expect.arrayContaining([
        ['redis.url', 4],
        ['queus', 5],
      ]),
    );
  });

  it('points a missing required key at its parent', () => {
    const problems = problemsOf('log:\n  level: info\nspool:\n  min_free_bytes: 5\n');
    expect(problems).toEqual([expect.objectContaining({ key: 'spool.dir', line: 3 })]);
  });

  it('reports YAML syntax errors with a line', () => {
    const problems = problemsOf('spool:\n  dir: [unclosed\n');
    expect(problems[0]!.message).toMatch(/YAML syntax/);
    expect(problems[0]!.line).toBeGreaterThanOrEqual(2);
  });

  it('takes secrets from the environment it is handed', () => {
    const config = parseConfig('spool:\n  dir: /tmp/x\nredis:\n  url: redis://file:1\n', 'a.yaml', {
      REDIS_URL: 'redis://env:6380/2',
    });
    expect(config.redis.url).toBe('redis://env:6380/2');
  });

  it('refuses plain HTTP off loopback and names the key', () => {
    const text = 'spool:\n  dir: /tmp/x\npmtp:\n  listen:\n    host: 0.0.0.0\n    plain_http: true\n';
    expect(problemsOf(text)).toEqual([expect.objectContaining({ key: 'pmtp.listen.plain_http', line: 6 })]);
  });

  it('needs a delegate key of its own for each redirect, and at most seven days of validity', () => {
    const key = (c: string) => `${c.repeat(42)}A`;
    const redirect = (lines: string[]) =>
      [
        'spool:',
        '  dir: /tmp/x',
        'pmtp:',
        '  redirects:',
        '    - recipient: bob@a.example',
        '      endpoint: https://bob.a.example',
        ...lines,
        '',
      ].join('\n');
    expect(problemsOf(redirect([]))).toEqual([expect.objectContaining({ key: 'pmtp.redirects.0.delegate_key' })]);
    expect(problemsOf(redirect(['      delegate_key: not-a-key']))).toEqual([
      expect.objectContaining({ key: 'pmtp.redirects.0.delegate_key', message: expect.stringMatching(/Ed25519/) }),
    ]);
    expect(problemsOf(redirect([`      delegate_key: ${key('b')}`, '      valid_s: 604801']))).toEqual([
      expect.objectContaining({ key: 'pmtp.redirects.0.valid_s' }),
    ]);
    const twice = redirect([
      `      delegate_key: ${key('b')}`,
      '    - recipient: carol@a.example',
      '      endpoint: https://carol.a.example',
      `      delegate_key: ${key('b')}`,
    ]);
    expect(problemsOf(twice)).toEqual([
      expect.objectContaining({
        key: 'pmtp.redirects.1.delegate_key',
        message: expect.stringMatching(/one recipient/),
      }),
    ]);
    expect(parseConfig(redirect([`      delegate_key: ${key('b')}`]), 'a.yaml').pmtp.redirects[0]).toMatchObject({
      delegate_key: key('b'),
      valid_s: 86_400,
    });
  });

  it('refuses a relay-in listener without relay clients', () => {
    const text = 'spool:\n  dir: /tmp/x\nsmtp:\n  listeners:\n    - role: relay-in\n      port: 10025\n';
    expect(problemsOf(text)).toEqual([expect.objectContaining({ key: 'smtp.listeners.0.role', line: 5 })]);
  });

  it('checks each submission sender grant, naming its key and line', () => {
    const hash = 'scrypt$1024$8$1$c2FsdA$aGFzaA';
    const text = [
      'spool:',
      '  dir: /tmp/x',
      'smtp:',
      '  accounts:',
      '    - user: alice@example.org',
      `      password_hash: ${hash}`,
      "      senders: ['@Example.com', 'bob@example.org', '<>', '*']",
      '    - user: ops',
      `      password_hash: ${hash}`,
      '      senders:',
      '        - ok@example.org',
      '        - "@not a domain"',
      '        - any',
      '',
    ].join('\n');
    const problems = problemsOf(text);
    expect(problems.map((p) => [p.key, p.line])).toEqual([
      ['smtp.accounts.1.senders.1', 12],
      ['smtp.accounts.1.senders.2', 13],
    ]);
    expect(problems[0]!.message).toMatch(/address .*domain .*"<>" or "\*"/);
    const config = parseConfig(text.split('\n').slice(0, 7).join('\n'), 'mailbridge.yaml');
    expect(config.smtp.accounts[0]!.senders).toEqual(['@Example.com', 'bob@example.org', '<>', '*']);
    // an account without `senders` still loads: it may send as its own address only
    expect(parseConfig(text.split('\n').slice(0, 6).join('\n'), 'mailbridge.yaml').smtp.accounts[0]!.senders).toEqual(
      [],
    );
  });

  it('warns, naming its line, about a login that is no address and has no senders: it can send nothing', () => {
    const hash = 'scrypt$1024$8$1$c2FsdA$aGFzaA';
    const text = [
      'spool:',
      '  dir: /tmp/x',
      'smtp:',
      '  accounts:',
      '    - user: alice@example.org',
      `      password_hash: ${hash}`,
      '    - user: ops',
      `      password_hash: ${hash}`,
      '    - user: relay',
      `      password_hash: ${hash}`,
      "      senders: ['@example.org']",
      '',
    ].join('\n');
    const warnings: ConfigProblem[] = [];
    parseConfig(text, 'mailbridge.yaml', {}, (w) => warnings.push(w));
    expect(warnings).toEqual([
      { key: 'smtp.accounts.1.user', line: 7, message: expect.stringMatching(/can send nothing/) },
    ]);
  });

  it('refuses a redis prefix with braces anywhere but a leading hash tag', () => {
    expect(problemsOf('spool:\n  dir: /tmp/x\nredis:\n  prefix: mail{bridge}\n')[0]).toMatchObject({
      key: 'redis.prefix',
      line: 4,
    });
    expect(problemsOf('spool:\n  dir: /tmp/x\nredis:\n  prefix: "{}x"\n')[0]).toMatchObject({ key: 'redis.prefix' });
  });

  it('takes a redis prefix without braces (keys spread over Redis Cluster shards)', () => {
    const config = parseConfig('spool:\n  dir: /tmp/x\nredis:\n  prefix: mailbridge\n', 'mailbridge.yaml');
    expect(config.redis.prefix).toBe('mailbridge');
  });

  it('warns that a {hash-tag} prefix keeps a Redis Cluster on one shard', () => {
    const warnings: ConfigProblem[] = [];
    const cluster = 'spool:\n  dir: /tmp/x\nredis:\n  cluster_nodes: [{ host: 127.0.0.1, port: 7000 }]\n';
    parseConfig(cluster, 'mailbridge.yaml', {}, (w) => warnings.push(w));
    expect(warnings).toEqual([
      { key: 'redis.prefix', line: 3, message: expect.stringMatching(/one Redis Cluster shard/) },
    ]);
    warnings.length = 0;
    parseConfig(`${cluster}  prefix: mailbridge\n`, 'mailbridge.yaml', {}, (w) => warnings.push(w));
    expect(warnings).toEqual([]);
  });

  it('refuses Redis Cluster and Sentinel together, naming redis.cluster_nodes', () => {
    const text = [
      'spool:\n  dir: /tmp/x',
      'redis:',
      '  cluster_nodes: [{ host: 127.0.0.1, port: 7000 }]',
      '  sentinels: [{ host: 127.0.0.1 }]',
      '',
    ].join('\n');
    expect(problemsOf(text)[0]).toMatchObject({
      key: 'redis.cluster_nodes',
      message: expect.stringMatching(/exclude/),
    });
  });

  it('asks for spool.s3 with backend s3, and for both key files or neither', () => {
    expect(problemsOf('spool:\n  dir: /tmp/x\n  backend: s3\n')[0]).toMatchObject({ key: 'spool.s3' });
    const oneFile = 'spool:\n  dir: /tmp/x\n  backend: s3\n  s3:\n    bucket: mail\n    access_key_id_file: id\n';
    expect(problemsOf(oneFile)[0]).toMatchObject({ key: 'spool.s3.secret_access_key_file' });
    expect(problemsOf('spool:\n  dir: /tmp/x\n  s3:\n    bucket: Mail_Box\n')[0]).toMatchObject({
      key: 'spool.s3.bucket',
      line: 4,
    });
    const config = parseConfig('spool:\n  dir: /tmp/x\n  backend: s3\n  s3:\n    bucket: mail\n', 'mailbridge.yaml');
    expect(config.spool.s3).toMatchObject({ region: 'us-east-1', prefix: '', part_size_bytes: 8 * 1024 * 1024 });
  });

  it('resolves file paths against the config file folder', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mb-config-'));
    const file = path.join(dir, 'mailbridge.yaml');
    await writeFile(
      file,
      'spool:\n  dir: spool\n  s3:\n    bucket: mail\n    access_key_id_file: s3/id\n    secret_access_key_file: s3/secret\ndns:\n  zone_file: ./zones/test.zone\n',
    );
    const config = await loadConfig(file);
    expect(config.spool.dir).toBe(path.join(dir, 'spool'));
    expect(config.spool.s3?.secret_access_key_file).toBe(path.join(dir, 's3/secret'));
    expect(config.dns.zone_file).toBe(path.join(dir, 'zones/test.zone'));
  });
});
