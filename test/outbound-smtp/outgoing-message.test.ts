// The outgoing stream (trace header + source) and the bounded header reader used for DSNs.
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { prepend } from '../../src/outbound-smtp/outgoing-message.js';
import { readHeaderSection } from '../../src/translate/header-section.js';

const chunks = (...parts: string[]) => Readable.from(parts.map((p) => Buffer.from(p)));

describe('prepend', () => {
  it('puts the header in front of every body byte', async () => {
    expect((await buffer(prepend('Received: x\r\n', chunks('A: 1\r\n', '\r\nbody')))).toString()).toBe(
      'Received: x\r\nA: 1\r\n\r\nbody',
    );
  });

  it('destroys the body when the result is destroyed', async () => {
    const body = chunks('A: 1\r\n', '\r\nbody');
    const out = prepend('R: x\r\n', body);
    out.destroy();
    await new Promise((r) => setTimeout(r, 10));
    expect(body.destroyed).toBe(true);
  });
  it('destroys the body when destroyed after the header was read', async () => {
    const body = chunks('A: 1\r\n', '\r\nbody');
    const out = prepend('R: x\r\n', body);
    await new Promise((r) => out.once('readable', r));
    out.read();
    out.destroy();
    await new Promise((r) => setTimeout(r, 10));
    expect(body.destroyed).toBe(true);
  });
});

describe('readHeaderSection', () => {
  it('stops at the empty line, across chunk edges, and closes the source', async () => {
    const source = chunks('From: a@x\r\nSubj', 'ect: hi\r\n\r', '\nbody that is never read');
    expect(await readHeaderSection(source)).toBe('From: a@x\r\nSubject: hi\r\n\r\n');
    expect(source.destroyed).toBe(true);
  });

  it('cuts an oversized section at a line end', async () => {
    expect(await readHeaderSection(chunks('A: 1\r\nB: 22222\r\nC: 3\r\n\r\n'), 12)).toBe('A: 1\r\n\r\n');
  });
});
