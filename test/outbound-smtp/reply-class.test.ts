// Remote replies and connection errors sorted into transient and permanent, text kept verbatim.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MailbridgeError } from '../../src/codes.js';
import { classifyError, classifyReply, enhancedStatus } from '../../src/outbound-smtp/reply-class.js';

describe('classifyReply', () => {
  it('calls every 4xx transient and every 5xx but 503 permanent, keeping the text', () => {
    fc.assert(
      fc.property(fc.integer({ min: 400, max: 599 }), fc.string(), (code, text) => {
        const outcome = classifyReply(code, text);
        expect(outcome.reply).toBe(text);
        expect(outcome.class).toBe(code >= 500 && code !== 503 ? 'permanent' : 'transient');
        expect(outcome.code).toBe(outcome.class === 'permanent' ? 'remote_permanent' : 'remote_transient');
      }),
    );
  });
});

describe('classifyError', () => {
  it('takes a nodemailer reply error at its word', () => {
    const err = Object.assign(new Error('Recipient command failed'), {
      code: 'EENVELOPE',
      responseCode: 550,
      response: '550 5.1.1 <x@y.test>: No such user',
    });
    expect(classifyError(err)).toEqual({
      class: 'permanent',
      code: 'remote_permanent',
      reply: '550 5.1.1 <x@y.test>: No such user',
      connectionLevel: false,
    });
  });

  it('treats 421 as transient and worth another host', () => {
    const err = Object.assign(new Error('x'), { code: 'EENVELOPE', responseCode: 421, response: '421 4.3.0 closing' });
    expect(classifyError(err)).toMatchObject({ class: 'transient', code: 'remote_transient', connectionLevel: true });
  });

  it.each(['ECONNREFUSED', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ECONNECTION', 'ETLS'])(
    'treats %s as a transient connection failure',
    (code) => {
      const outcome = classifyError(Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code }));
      expect(outcome).toMatchObject({ class: 'transient', code: 'connection_failed', connectionLevel: true });
      expect(outcome.reply).toContain(code);
    },
  );

  it('looks through nodemailer ESOCKET to the socket error', () => {
    const outcome = classifyError(
      Object.assign(new Error('connect failed'), { code: 'ESOCKET', originalCode: 'ECONNREFUSED' }),
    );
    expect(outcome).toMatchObject({
      class: 'transient',
      code: 'connection_failed',
      reply: 'ECONNREFUSED: connect failed',
    });
  });

  it('treats a refused STARTTLS as transient even when the server said 5xx', () => {
    const err = Object.assign(new Error('Error initiating TLS'), {
      code: 'ETLS',
      command: 'STARTTLS',
      responseCode: 500,
      response: '500 5.5.1 unknown command',
    });
    expect(classifyError(err)).toEqual({
      class: 'transient',
      code: 'connection_failed',
      reply: 'STARTTLS failed: 500 5.5.1 unknown command',
      connectionLevel: true,
    });
  });

  it('keeps the meaning of a MailbridgeError', () => {
    expect(classifyError(new MailbridgeError('null_mx'))).toMatchObject({ class: 'permanent', code: 'null_mx' });
    expect(classifyError(new MailbridgeError('no_route'))).toMatchObject({ class: 'transient', code: 'no_route' });
  });

  it('retries anything it does not recognise', () => {
    expect(classifyError(new Error('boom'))).toMatchObject({
      class: 'transient',
      code: 'internal_error',
      reply: 'boom',
    });
  });
});

describe('enhancedStatus', () => {
  it('reads the enhanced code from the reply, else from the status table', () => {
    expect(enhancedStatus({ code: 'remote_permanent', reply: '550 5.1.1 No such user' })).toBe('5.1.1');
    expect(enhancedStatus({ code: 'remote_permanent', reply: '550 No such user' })).toBe('5.0.0');
    expect(enhancedStatus({ code: 'null_mx', reply: 'null MX' })).toBe('5.1.10');
  });
});
