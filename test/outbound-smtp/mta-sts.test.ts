// MTA-STS: no TXT record means no policy; `enforce` narrows the route and demands verified TLS.
import type { MTASTSPolicy } from 'mailauth';
import { describe, expect, it } from 'vitest';
import { MailbridgeError } from '../../src/codes.js';
import { applyPolicy, MtaStsPolicies } from '../../src/outbound-smtp/mta-sts.js';
import type { Route } from '../../src/outbound-smtp/mx-route.js';
import { staticResolver } from '../support/static-resolver.js';

const route: Route = {
  domain: 'example.net',
  kind: 'mx',
  hops: [
    { host: '127.0.0.11', port: 25, protocol: 'smtp', mxName: 'mx1.example.net' },
    { host: '127.0.0.12', port: 25, protocol: 'smtp', mxName: 'backup.other.test' },
  ],
};
const policyText =
  'version: STSv1\r\nmode: enforce\r\nmx: mx1.example.net\r\nmx: *.mail.example.net\r\nmax_age: 86400\r\n';

describe('MtaStsPolicies.policyFor', () => {
  it('is none, and fetches nothing, for a domain without an _mta-sts record', async () => {
    const fetched: string[] = [];
    const policies = new MtaStsPolicies(staticResolver({ mx: { 'example.net': [] } }), async (d) => {
      fetched.push(d);
      return policyText;
    });
    expect(await policies.policyFor('example.net')).toEqual({ mode: 'none' });
    expect(fetched).toEqual([]);
  });

  it('fetches the policy the TXT id announces, and keeps it while the id stays the same', async () => {
    const fetched: string[] = [];
    const resolver = staticResolver({ txt: { '_mta-sts.example.net': [['v=STSv1; id=20240101']] } });
    const policies = new MtaStsPolicies(resolver, async (d) => {
      fetched.push(d);
      return policyText;
    });
    const policy = await policies.policyFor('example.net');
    expect(policy).toMatchObject({ mode: 'enforce', mx: ['mx1.example.net', '*.mail.example.net'], maxAge: 86400 });
    await policies.policyFor('example.net');
    expect(fetched).toEqual(['example.net']);
  });

  it('keeps a cached policy when the fetch or DNS later fails', async () => {
    let now = 0;
    let fail = false;
    const resolver = staticResolver({ txt: { '_mta-sts.example.net': [['v=STSv1; id=1']] } });
    const policies = new MtaStsPolicies(
      resolver,
      async () => {
        if (fail) throw new Error('TLS handshake failed');
        return policyText;
      },
      () => now,
    );
    await policies.policyFor('example.net');
    fail = true;
    (resolver as unknown as { resolve: unknown }).resolve = async () => [['v=STSv1; id=2']];
    now = 1000;
    expect((await policies.policyFor('example.net')).mode).toBe('enforce');
    now = 86_400_001;
    expect((await policies.policyFor('example.net')).mode).toBe('none');
  });
});

describe('applyPolicy', () => {
  const enforce: MTASTSPolicy = { mode: 'enforce', mx: ['mx1.example.net'], maxAge: 86400, version: 'STSv1' };

  it('keeps only the MX hosts an enforce policy names, with verified TLS', () => {
    const decision = applyPolicy(route, enforce);
    expect(decision.verifyTls).toBe(true);
    expect(decision.route.hops.map((h) => h.mxName)).toEqual(['mx1.example.net']);
  });

  it('refuses, transiently, when the policy names none of the MX hosts', () => {
    let err: unknown;
    try {
      applyPolicy(route, { ...enforce, mx: ['elsewhere.test'] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MailbridgeError);
    expect((err as MailbridgeError).code).toBe('mta_sts_mismatch');
    expect((err as MailbridgeError).status.retryable).toBe(true);
  });

  it('only reports under testing, and leaves none and configured routes alone', () => {
    const testing = applyPolicy(route, { ...enforce, mode: 'testing' });
    expect(testing).toEqual({ route, verifyTls: false, wouldRefuse: ['backup.other.test'] });
    expect(applyPolicy(route, { mode: 'none' })).toEqual({ route, verifyTls: false, wouldRefuse: [] });
    const relay: Route = {
      domain: 'example.net',
      kind: 'relayhost',
      hops: [{ host: '127.0.0.1', port: 25, protocol: 'smtp' }],
    };
    expect(applyPolicy(relay, enforce).route).toBe(relay);
  });
});
