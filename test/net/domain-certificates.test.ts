// Which domain's certificate SNI picks: the domain's own for it and the hosts under it, none otherwise.
import { describe, expect, it } from 'vitest';
import { contextFor } from '../../src/net/domain-certificates.js';

describe('contextFor (SNI)', () => {
  const certs = new Map([['one.example', 'cert-one']]);
  it("gives a domain's certificate for the domain and the hosts under it, nothing otherwise", () => {
    expect(contextFor(certs, 'one.example')).toBe('cert-one');
    expect(contextFor(certs, 'MAIL.One.Example.')).toBe('cert-one');
    expect(contextFor(certs, 'one.example.evil.test')).toBeUndefined();
    expect(contextFor(certs, 'xone.example')).toBeUndefined();
    expect(contextFor(certs, '')).toBeUndefined();
  });
});
