// Pure DMARC verdict over mailauth's results: accept, quarantine (accept and mark), reject or
// tempfail. Stricter than mailauth: not exactly one From address (`dmarc === false`) is a fail,
// and a DKIM pass whose `l=` leaves body content unsigned does not count towards DMARC.

import type { DkimVerdict, DmarcPolicy, SenderAction, SenderVerdict } from '../mail/spool-records.js';

/** The parts of mailauth's `authenticate()` result the verdict reads (tests feed this shape). */
export interface MailauthOutcome {
  /**
   * From header fields in the message, counted by us: mailauth counts addresses, and a From field
   * whose address does not parse would otherwise hide a second From field.
   */
  readonly fromFields?: number;
  readonly dkim: {
    readonly headerFrom: readonly string[];
    readonly results: readonly {
      readonly signingDomain?: string;
      readonly selector?: string;
      readonly status: { readonly result: string; readonly aligned?: unknown; readonly underSized?: unknown };
      readonly info?: string;
    }[];
  };
  readonly spf: false | { readonly status: { readonly result: string }; readonly info?: string };
  readonly dmarc:
    | false
    | {
        readonly status: { readonly result: string };
        readonly policy?: string;
        readonly pct?: number;
        readonly domain?: string;
        readonly alignment?: {
          readonly spf?: { readonly result?: unknown; readonly strict?: boolean };
          readonly dkim?: { readonly result?: unknown; readonly strict?: boolean; readonly underSized?: unknown };
        };
        readonly info?: string;
      };
  readonly arc?: false | { readonly status: { readonly result: string }; readonly info?: string };
}

export function senderVerdict(outcome: MailauthOutcome): SenderVerdict {
  const dkim: DkimVerdict[] = outcome.dkim.results
    .filter((r) => r.signingDomain)
    .map((r) => {
      const unsignedTail = r.status.result === 'pass' && Number(r.status.underSized ?? 0) > 0;
      return {
        domain: r.signingDomain!,
        selector: r.selector,
        result: unsignedTail ? 'policy' : r.status.result,
        unsignedTail,
      };
    });
  const spf = outcome.spf ? outcome.spf.status.result : 'none';
  const froms = outcome.dkim.headerFrom;
  const fromDomain = froms.length === 1 ? froms[0]!.split('@').pop()!.toLowerCase() : undefined;
  const base = { spf, dkim, fromDomain };

  const dmarc = outcome.dmarc;
  if (froms.length !== 1 || (outcome.fromFields ?? 1) !== 1 || dmarc === false) {
    const reason = froms.length === 0 ? 'message has no From address' : 'message must have exactly one From address';
    return { ...base, action: 'reject', reason, dmarc: 'fail', dmarcOverridden: true, policy: undefined };
  }

  let result = dmarc.status.result;
  let overridden = false;
  let reason = `DMARC ${result}`;
  if (result === 'pass') {
    const spfDomain = String(dmarc.alignment?.spf?.result || '').toLowerCase();
    // mailauth 4 matches organizational domains even under aspf=s / adkim=s: strict is checked here
    const spfAligned = spfDomain !== '' && (!dmarc.alignment?.spf?.strict || spfDomain === fromDomain);
    // mailauth picks the aligned DKIM pass with the smallest unsigned tail; any tail means none is clean
    const dkimAligned = dmarc.alignment?.dkim?.strict
      ? dkim.some((d) => d.result === 'pass' && d.domain.toLowerCase() === fromDomain)
      : Boolean(dmarc.alignment?.dkim?.result) && !(Number(dmarc.alignment?.dkim?.underSized ?? 0) > 0);
    if (!spfAligned && !dkimAligned) {
      result = 'fail';
      overridden = true;
      reason =
        dmarc.alignment?.dkim?.strict || dmarc.alignment?.spf?.strict
          ? 'no identifier matches the From domain exactly, as strict alignment requires'
          : 'the only aligned DKIM signature leaves the body tail unsigned via l=';
    }
  }
  const policy = effectivePolicy(dmarc.policy, dmarc.pct);
  if (result === 'temperror')
    return {
      ...base,
      action: 'tempfail',
      reason: 'DMARC temperror',
      dmarc: result,
      dmarcOverridden: overridden,
      policy,
    };
  if (result !== 'fail')
    return { ...base, action: 'accept', reason, dmarc: result, dmarcOverridden: overridden, policy };

  // a DNS failure may have hidden a pass: a reject would be final, so ask the sender to retry
  const maybePass = spf === 'temperror' || dkim.some((d) => d.result === 'temperror');
  const action: SenderAction =
    policy === 'reject' ? (maybePass ? 'tempfail' : 'reject') : policy === 'quarantine' ? 'quarantine' : 'accept';
  if (!overridden) reason = `DMARC fail, policy ${policy ?? 'none'}`;
  return { ...base, action, reason, dmarc: 'fail', dmarcOverridden: overridden, policy };
}

/** `pct` below 100 applies the next lower policy to every message, so verdicts stay reproducible. */
function effectivePolicy(policy: string | undefined, pct: number | undefined): DmarcPolicy | undefined {
  const p = policy?.toLowerCase();
  if (p !== 'none' && p !== 'quarantine' && p !== 'reject') return undefined;
  if (pct === undefined || pct >= 100) return p;
  return p === 'reject' ? 'quarantine' : 'none';
}
