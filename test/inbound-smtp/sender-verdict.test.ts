// The DMARC verdict over mailauth-shaped results, and the Authentication-Results it writes.
import { describe, expect, it } from 'vitest';
import { authenticationResults, submissionResults } from '../../src/inbound-smtp/authentication-results.js';
import { type MailauthOutcome, senderVerdict } from '../../src/inbound-smtp/sender-verdict.js';

type DkimRow = MailauthOutcome['dkim']['results'][number];

function outcome(parts: {
  from?: string[];
  dkim?: DkimRow[];
  spf?: string;
  dmarc?: false | (Partial<Exclude<MailauthOutcome['dmarc'], false>> & { result: string });
}): MailauthOutcome {
  const dmarc = parts.dmarc === undefined ? { result: 'none' } : parts.dmarc;
  return {
    dkim: {
      headerFrom: parts.from ?? ['ceo@bank.test'],
      results: parts.dkim ?? [{ status: { result: 'none' }, info: 'dkim=none (message not signed)' }],
    },
    spf: { status: { result: parts.spf ?? 'fail' }, info: `spf=${parts.spf ?? 'fail'} smtp.mailfrom=x@bank.test` },
    dmarc:
      dmarc === false
        ? false
        : { status: { result: dmarc.result }, info: `dmarc=${dmarc.result} header.from=bank.test`, ...dmarc },
    arc: { status: { result: 'none' } },
  };
}

const passRow = (underSized?: number): DkimRow => ({
  signingDomain: 'bank.test',
  selector: 's1',
  status: { result: 'pass', aligned: 'bank.test', underSized },
  info: 'dkim=pass header.i=@bank.test header.s=s1 header.a=rsa-sha256',
});

describe('senderVerdict', () => {
  it('accepts a DMARC pass and keeps mailauth’s row', () => {
    const o = outcome({
      dkim: [passRow()],
      dmarc: { result: 'pass', policy: 'reject', alignment: { dkim: { result: 'bank.test' }, spf: { result: false } } },
    });
    const v = senderVerdict(o);
    expect(v).toMatchObject({
      action: 'accept',
      dmarc: 'pass',
      policy: 'reject',
      fromDomain: 'bank.test',
      dmarcOverridden: false,
    });
    expect(authenticationResults('mx.gw.test', o, v)).toBe(
      'Authentication-Results: mx.gw.test;\r\n dkim=pass header.i=@bank.test header.s=s1 header.a=rsa-sha256;\r\n spf=fail smtp.mailfrom=x@bank.test;\r\n dmarc=pass header.from=bank.test\r\n',
    );
  });

  it('enforces strict alignment itself: aspf=s with a subdomain MAIL FROM is no pass, an exact one is', () => {
    const strictSpf = (domain: string) =>
      outcome({
        spf: 'pass',
        dmarc: {
          result: 'pass',
          policy: 'reject',
          alignment: { spf: { result: domain, strict: true }, dkim: { result: false, strict: false } },
        },
      });
    expect(senderVerdict(strictSpf('mail.bank.test'))).toMatchObject({
      action: 'reject',
      dmarc: 'fail',
      dmarcOverridden: true,
    });
    expect(senderVerdict(strictSpf('bank.test'))).toMatchObject({ action: 'accept', dmarc: 'pass' });
  });

  it('counts From fields, not addresses: a second From hidden behind an unparsable one fails', () => {
    const o = {
      ...outcome({ dmarc: { result: 'pass', policy: 'none', alignment: { dkim: { result: 'bank.test' } } } }),
      fromFields: 2,
    };
    expect(senderVerdict(o)).toMatchObject({ action: 'reject', reason: 'message must have exactly one From address' });
  });

  it('rejects a DMARC fail under p=reject, quarantines under p=quarantine, accepts under p=none', () => {
    expect(senderVerdict(outcome({ dmarc: { result: 'fail', policy: 'reject' } })).action).toBe('reject');
    expect(senderVerdict(outcome({ dmarc: { result: 'fail', policy: 'quarantine' } })).action).toBe('quarantine');
    expect(senderVerdict(outcome({ dmarc: { result: 'fail', policy: 'none' } })).action).toBe('accept');
  });

  it('applies the next lower policy when pct is below 100', () => {
    expect(senderVerdict(outcome({ dmarc: { result: 'fail', policy: 'reject', pct: 50 } })).action).toBe('quarantine');
    expect(senderVerdict(outcome({ dmarc: { result: 'fail', policy: 'quarantine', pct: 10 } })).action).toBe('accept');
  });

  it('treats several From addresses (mailauth’s dmarc === false) and no From as a fail', () => {
    const several = outcome({ from: ['ceo@bank.test', 'x@evil.test'], dmarc: false });
    const v = senderVerdict(several);
    expect(v).toMatchObject({ action: 'reject', dmarc: 'fail', dmarcOverridden: true });
    expect(authenticationResults('mx.gw.test', several, v)).toMatch(
      / dmarc=fail \(message must have exactly one From address\)\r\n$/,
    );
    expect(senderVerdict(outcome({ from: [], dmarc: false })).reason).toBe('message has no From address');
  });

  it('does not count a DKIM pass whose l= leaves content unsigned', () => {
    const o = outcome({
      dkim: [passRow(42)],
      dmarc: {
        result: 'pass',
        policy: 'reject',
        alignment: { dkim: { result: 'bank.test', underSized: 42 }, spf: { result: false } },
      },
    });
    const v = senderVerdict(o);
    expect(v).toMatchObject({ action: 'reject', dmarc: 'fail', dmarcOverridden: true });
    expect(v.dkim).toEqual([{ domain: 'bank.test', selector: 's1', result: 'policy', unsignedTail: true }]);
    const ar = authenticationResults('mx.gw.test', o, v);
    expect(ar).toContain('dkim=policy (unsigned body tail after l=) header.i=@bank.test');
    expect(ar).toContain(
      'dmarc=fail (the only aligned DKIM signature leaves the body tail unsigned via l=) header.from=bank.test',
    );
  });

  it('still passes with an l= tail when aligned SPF passes too', () => {
    const o = outcome({
      spf: 'pass',
      dkim: [passRow(42)],
      dmarc: {
        result: 'pass',
        policy: 'reject',
        alignment: { dkim: { result: 'bank.test', underSized: 42 }, spf: { result: 'bank.test' } },
      },
    });
    expect(senderVerdict(o).action).toBe('accept');
  });

  it('asks for a retry instead of rejecting when a DNS failure may have hidden the pass', () => {
    expect(senderVerdict(outcome({ spf: 'temperror', dmarc: { result: 'fail', policy: 'reject' } })).action).toBe(
      'tempfail',
    );
    expect(senderVerdict(outcome({ dmarc: { result: 'temperror' } })).action).toBe('tempfail');
  });

  it('writes auth=pass for a submission login', () => {
    expect(submissionResults('gw.test', 'alice@native.test')).toBe(
      'Authentication-Results: gw.test;\r\n auth=pass smtp.auth=alice@native.test\r\n',
    );
  });
});
