// domains.settings: many domains beside the default `dkim` and `pmtp.domain`, each problem named by its key.
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { LivePolicy } from '../../src/policy/live-policy.js';

function problemsOf(text: string): ConfigError['problems'] {
  try {
    parseConfig(text, 'mailbridge.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const base = [
  'spool: { dir: /tmp/x }',
  'dkim: { domain: one.example, selector: s1, key_file: one.dkim }',
  'pmtp: { domain: one.example, key_file: one.pmtp }',
  'limits: { message_size_bytes: 1000000 }',
];

describe('domains.settings', () => {
  it('loads a second domain with its own keys, policy, size and certificate; paths resolved', () => {
    const config = parseConfig(
      [
        ...base,
        'domains:',
        '  settings:',
        '    Two.Example:',
        '      dkim: { selector: s2, key_file: keys/two.dkim }',
        '      pmtp: { key_file: keys/two.pmtp, public_url: "https://pmtp.two.example" }',
        '      first_contact: { default: deny }',
        '      max_message_bytes: 5000',
        '      tls: { key: two.key, cert: two.crt }',
      ].join('\n'),
      '/etc/mailbridge/mailbridge.yaml',
    );
    const two = config.domains.settings['two.example']!;
    expect(two.dkim).toEqual({ selector: 's2', key_file: '/etc/mailbridge/keys/two.dkim' });
    expect(two.pmtp?.key_file).toBe('/etc/mailbridge/keys/two.pmtp');
    expect(two.tls).toEqual({ key: '/etc/mailbridge/two.key', cert: '/etc/mailbridge/two.crt' });
    expect(two.first_contact?.default).toBe('deny');
    const policy = new LivePolicy(config.domains);
    expect(policy.ownSizeLimit('Two.Example')).toBe(5000);
    expect(policy.ownSizeLimit('one.example')).toBeUndefined();
  });

  it('refuses repeating the default domain, a size above the global limit, and PMTP without a default', () => {
    const problems = problemsOf(
      [
        ...base,
        'domains:',
        '  settings:',
        '    one.example:',
        '      dkim: { selector: s9, key_file: other.dkim }',
        '      pmtp: { key_file: other.pmtp }',
        '    two.example:',
        '      max_message_bytes: 2000000',
      ].join('\n'),
    );
    expect(problems.map((p) => [p.key, p.line])).toEqual([
      ['domains.settings.one.example.dkim', 8],
      ['domains.settings.one.example.pmtp', 9],
      ['domains.settings.two.example.max_message_bytes', 11],
    ]);
    expect(problems[2]!.message).toMatch(/must not exceed limits\.message_size_bytes \(1000000\)/);
    const orphan = problemsOf(
      ['spool: { dir: /tmp/x }', 'domains:', '  settings:', '    two.example:', '      pmtp: { key_file: k }'].join(
        '\n',
      ),
    );
    expect(orphan).toEqual([
      { key: 'domains.settings.two.example.pmtp', line: 5, message: expect.stringMatching(/needs pmtp\.domain/) },
    ]);
  });

  it('names an unknown key and a bad domain name inside an entry', () => {
    const problems = problemsOf(
      ['spool: { dir: /tmp/x }', 'domains:', '  settings:', '    two.example:', '      dkim_selector: s2'].join('\n'),
    );
    expect(problems).toEqual([
      { key: 'domains.settings.two.example.dkim_selector', line: 5, message: 'unknown key dkim_selector' },
    ]);
    expect(problemsOf(['spool: { dir: /tmp/x }', 'domains:', '  settings:', '    nodots: {}'].join('\n'))[0]?.key).toBe(
      'domains.settings.nodots',
    );
  });
});
